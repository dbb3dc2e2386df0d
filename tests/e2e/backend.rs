//! What every [`Backend`] promises (`wit/feed.wit`), written once against
//! the trait and run on each implementation: SQLite in a new file, and a real
//! PostgreSQL server (`common::postgres`), each case on a new database. A
//! failure is named `backend::<implementation>::<case>`.

use newsfeed::backend::types::{Friendship, Id, Participant, Post};
use newsfeed::backend::{Backend, BackendError};
use std::sync::Arc;

/// A participant id no case creates.
const UNKNOWN: Id = 424_242;

fn post(author: Id, subject: &str, story: &str) -> Post {
    Post { author, occurred: "2026-11-24".into(), subject: subject.into(), story: story.into() }
}

async fn participants(backend: &dyn Backend, names: &[&str]) -> Vec<Id> {
    let mut ids = Vec::new();
    for name in names {
        ids.push(backend.create_participant(name.to_string()).await.unwrap().id);
    }
    ids
}

async fn stories_inbound(backend: &dyn Backend, reader: Id, limit: u32) -> Vec<String> {
    let feed = backend.list_inbound(reader, limit, None).await.unwrap().items;
    assert!(feed.iter().all(|item| item.reader == reader), "{feed:?}");
    feed.into_iter().map(|item| item.post.story).collect()
}

async fn stories_outbound(backend: &dyn Backend, author: Id, limit: u32) -> Vec<String> {
    backend.list_outbound(author, limit, None).await.unwrap().items.into_iter().map(|post| post.story).collect()
}

pub async fn participants_get_new_ids_and_read_back_as_created(backend: Arc<dyn Backend>) {
    let joe = backend.create_participant("joe".into()).await.unwrap();
    let ann = backend.create_participant("ann".into()).await.unwrap();
    assert!(joe.id > 0 && ann.id > joe.id, "{joe:?} {ann:?}");
    assert_eq!(joe.name, "joe");
    assert_eq!(backend.get_participant(joe.id).await.unwrap(), joe);
    assert_eq!(backend.get_participant(ann.id).await.unwrap(), Participant { id: ann.id, name: "ann".into() });
    assert!(matches!(backend.get_participant(UNKNOWN).await, Err(BackendError::NotFound(_))));
}

pub async fn text_holding_a_nul_is_invalid_and_writes_nothing(backend: Arc<dyn Backend>) {
    assert!(matches!(backend.create_participant("a\0b".into()).await, Err(BackendError::Invalid(_))));
    let [a] = participants(backend.as_ref(), &["a"]).await[..] else { unreachable!() };
    assert!(matches!(backend.publish(post(a, "nul\0", "story")).await, Err(BackendError::Invalid(_))));
    assert!(matches!(backend.publish(post(a, "subject", "nul\0")).await, Err(BackendError::Invalid(_))));
    assert_eq!(stories_outbound(backend.as_ref(), a, 10).await, Vec::<String>::new());
    assert_eq!(backend.find_posters(vec!["subject".into(), "story".into()], 10).await.unwrap(), Vec::<Id>::new());
}

pub async fn friendship_is_symmetric_idempotent_and_never_with_oneself(backend: Arc<dyn Backend>) {
    let [a, b] = participants(backend.as_ref(), &["a", "b"]).await[..] else { unreachable!() };
    let first = backend.befriend(b, a).await.unwrap();
    assert_eq!((first.from, first.to), (b, a));
    assert_eq!(backend.befriend(a, b).await.unwrap(), Friendship { id: first.id, from: a, to: b }, "the same one");
    assert_eq!(backend.list_friends(a, 10, None).await.unwrap().items, [Friendship { id: first.id, from: a, to: b }]);
    assert_eq!(backend.list_friends(b, 10, None).await.unwrap().items, [Friendship { id: first.id, from: b, to: a }]);
    assert!(matches!(backend.befriend(a, a).await, Err(BackendError::Invalid(_))));
    assert!(matches!(backend.befriend(a, UNKNOWN).await, Err(BackendError::NotFound(_))));
    assert!(matches!(backend.befriend(UNKNOWN, a).await, Err(BackendError::NotFound(_))));
    assert_eq!(backend.list_friends(a, 10, None).await.unwrap().items.len(), 1, "a refused friendship was stored");
}

pub async fn a_post_reaches_its_authors_current_friends_and_no_one_else(backend: Arc<dyn Backend>) {
    let [author, early, late, stranger] =
        participants(backend.as_ref(), &["author", "early", "late", "stranger"]).await[..]
    else {
        unreachable!()
    };
    backend.befriend(author, early).await.unwrap();
    let first = post(author, "s", "first");
    assert_eq!(backend.publish(first.clone()).await.unwrap(), first, "the post as stored");
    backend.befriend(late, author).await.unwrap();
    backend.publish(post(author, "s", "second")).await.unwrap();
    let backend = backend.as_ref();
    assert_eq!(stories_inbound(backend, early, 10).await, ["second", "first"]);
    assert_eq!(stories_inbound(backend, late, 10).await, ["second"], "a friend made later sees only later posts");
    assert_eq!(stories_inbound(backend, stranger, 10).await, Vec::<String>::new());
    assert_eq!(stories_inbound(backend, author, 10).await, Vec::<String>::new(), "not one's own feed");
    assert_eq!(backend.list_outbound(author, 10, None).await.unwrap().items[1], first);
    assert_eq!(backend.list_inbound(early, 10, None).await.unwrap().items[1].post, first);
}

pub async fn lists_are_newest_stored_first_and_limited(backend: Arc<dyn Backend>) {
    let [a, f1, f2, f3] = participants(backend.as_ref(), &["a", "f1", "f2", "f3"]).await[..] else { unreachable!() };
    for friend in [f1, f2, f3] {
        backend.befriend(a, friend).await.unwrap();
    }
    // `occurred` is the writer's value and orders nothing.
    for (story, occurred) in [("first", "2030-01-01"), ("second", "2020-01-01"), ("third", "2025-01-01")] {
        backend.publish(Post { occurred: occurred.into(), ..post(a, "s", story) }).await.unwrap();
    }
    let backend = backend.as_ref();
    let friends: Vec<Id> = backend.list_friends(a, 2, None).await.unwrap().items.iter().map(|f| f.to).collect();
    assert_eq!(friends, [f3, f2]);
    assert_eq!(stories_outbound(backend, a, 10).await, ["third", "second", "first"]);
    assert_eq!(stories_outbound(backend, a, 2).await, ["third", "second"]);
    assert_eq!(stories_inbound(backend, f1, 1).await, ["third"]);
}

pub async fn lists_of_an_unknown_participant_are_not_found(backend: Arc<dyn Backend>) {
    assert!(matches!(backend.list_friends(UNKNOWN, 10, None).await, Err(BackendError::NotFound(_))));
    assert!(matches!(backend.list_outbound(UNKNOWN, 10, None).await, Err(BackendError::NotFound(_))));
    assert!(matches!(backend.list_inbound(UNKNOWN, 10, None).await, Err(BackendError::NotFound(_))));
    let [a] = participants(backend.as_ref(), &["a"]).await[..] else { unreachable!() };
    assert_eq!(backend.list_friends(a, 10, None).await.unwrap().items, Vec::<Friendship>::new());
    assert_eq!(backend.list_outbound(a, 10, None).await.unwrap().items, Vec::<Post>::new());
    assert_eq!(backend.list_inbound(a, 10, None).await.unwrap().items.len(), 0);
}

pub async fn a_publish_by_an_unknown_author_writes_nothing(backend: Arc<dyn Backend>) {
    let [friend] = participants(backend.as_ref(), &["friend"]).await[..] else { unreachable!() };
    assert!(matches!(backend.publish(post(UNKNOWN, "s", "ghost")).await, Err(BackendError::NotFound(_))));
    assert_eq!(backend.find_posters(vec!["ghost".into()], 10).await.unwrap(), Vec::<Id>::new());
    assert_eq!(stories_inbound(backend.as_ref(), friend, 10).await, Vec::<String>::new());
}

pub async fn search_ranks_posters_by_their_best_post_and_reads_no_query_syntax(backend: Arc<dyn Backend>) {
    let [one, two, three] = participants(backend.as_ref(), &["1", "2", "3"]).await[..] else { unreachable!() };
    backend.publish(post(one, "s", "the quick fox")).await.unwrap();
    backend.publish(post(two, "s", "a quick brown fox")).await.unwrap();
    backend.publish(post(three, "Fox News", "nothing")).await.unwrap();
    let find = |words: &[&str], limit| backend.find_posters(words.iter().map(|w| w.to_string()).collect(), limit);
    // More keywords held ranks first; ties go to the newer post.
    assert_eq!(find(&["brown", "FOX"], 10).await.unwrap(), [two, three, one]);
    assert_eq!(find(&["fox"], 2).await.unwrap(), [three, two]);
    assert_eq!(find(&["qui"], 10).await.unwrap(), Vec::<Id>::new(), "whole words only");
    assert_eq!(find(&[], 10).await.unwrap(), Vec::<Id>::new());
    for hostile in ["fox OR dog", "\"", "fox*", "NEAR(a b)", "story:fox", "-", "'); DROP TABLE post; --", "fox & !dog"]
    {
        assert!(find(&[hostile], 10).await.is_ok(), "{hostile}");
    }
    // Quotes are not part of a word, and a keyword holding separators is the
    // words it holds.
    assert_eq!(find(&["\"fox\""], 10).await.unwrap(), [three, two, one]);
    assert_eq!(find(&["brown-fox"], 10).await.unwrap(), [two, three, one]);
    // A poster is listed once, by its best post.
    backend.publish(post(one, "again", "quick brown fox")).await.unwrap();
    assert_eq!(find(&["quick", "brown", "fox"], 10).await.unwrap(), [one, two, three]);
    let words: Vec<String> = (0..33).map(|n| format!("w{n}")).collect();
    assert!(backend.find_posters(words[..32].to_vec(), 10).await.is_ok(), "32 distinct keywords");
    assert!(matches!(backend.find_posters(words, 10).await, Err(BackendError::Invalid(_))), "33 distinct keywords");
}

pub async fn concurrent_publishes_all_fan_out_and_are_read_at_once(backend: Arc<dyn Backend>) {
    let ids = participants(backend.as_ref(), &["author", "f1", "f2", "f3"]).await;
    let (author, friends) = (ids[0], &ids[1..]);
    for friend in friends {
        backend.befriend(author, *friend).await.unwrap();
    }
    let (writers, posts_each) = (8, 10);
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let backend = backend.clone();
            tokio::spawn(async move {
                for n in 0..posts_each {
                    let story = format!("concurrent {n} of {writer}");
                    backend.publish(post(author, "s", &story)).await.unwrap();
                    // Read-your-writes: the post is there the moment the
                    // call returns.
                    assert_eq!(
                        stories_outbound(backend.as_ref(), author, 1000).await.iter().filter(|s| **s == story).count(),
                        1
                    );
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let total = writers * posts_each;
    assert_eq!(stories_outbound(backend.as_ref(), author, 1000).await.len(), total);
    for friend in friends {
        assert_eq!(stories_inbound(backend.as_ref(), *friend, 1000).await.len(), total, "friend {friend}");
    }
    assert_eq!(backend.find_posters(vec!["concurrent".into()], 10).await.unwrap(), [author]);
}

pub async fn a_reachable_backend_answers_ping(backend: Arc<dyn Backend>) {
    backend.ping().await.unwrap();
}

/// One `#[test]` per case, each on a new, empty backend from the enclosing
/// module's `async fn open()`. A new case is a function above and a name
/// here.
macro_rules! every_case {
    () => {
        every_case!(
            participants_get_new_ids_and_read_back_as_created,
            text_holding_a_nul_is_invalid_and_writes_nothing,
            friendship_is_symmetric_idempotent_and_never_with_oneself,
            a_post_reaches_its_authors_current_friends_and_no_one_else,
            lists_are_newest_stored_first_and_limited,
            lists_of_an_unknown_participant_are_not_found,
            a_publish_by_an_unknown_author_writes_nothing,
            search_ranks_posters_by_their_best_post_and_reads_no_query_syntax,
            concurrent_publishes_all_fan_out_and_are_read_at_once,
            a_reachable_backend_answers_ping,
        );
    };
    ($($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
                runtime.block_on(async {
                    let (_keep, backend) = open().await;
                    super::$case(backend).await;
                });
            }
        )+
    };
}

mod sqlite {
    use newsfeed::backend::sqlite::{Sqlite, DEFAULT_MAX_BATCH};
    use newsfeed::backend::Backend;
    use std::sync::Arc;

    /// A new database file, deleted with the directory kept alive.
    async fn open() -> (tempfile::TempDir, Arc<dyn Backend>) {
        let dir = tempfile::tempdir().unwrap();
        let backend = Sqlite::open(&dir.path().join("feed.db"), DEFAULT_MAX_BATCH, Arc::default()).unwrap();
        (dir, Arc::new(backend))
    }

    every_case!();
}

mod postgres {
    use crate::common::postgres::shared;
    use newsfeed::backend::postgres::Postgres;
    use newsfeed::backend::Backend;
    use std::sync::Arc;

    /// A new database on the server every test of this process shares.
    async fn open() -> ((), Arc<dyn Backend>) {
        let url = shared().new_database();
        ((), Arc::new(Postgres::connect(&url, 4, std::time::Duration::from_secs(5)).await.unwrap()))
    }

    every_case!();
}
