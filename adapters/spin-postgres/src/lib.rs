//! The Spin PostgreSQL adapter: a component that exports every
//! `newsfeed:feed` interface on top of the PostgreSQL interface Spin provides
//! (`spin:postgres/postgres@4.0.0`, through spin-sdk 5.2's synchronous
//! `spin_sdk::pg4`), for the hosted platforms, which offer PostgreSQL and not
//! SQLite.
//!
//! `spin-postgres.toml` names this component as each function's dependency
//! for the `newsfeed:feed` package; the adapter inherits the function's
//! variables (`db_url`) and outbound permission (`postgres://{{ db_host }}`).
//!
//! The schema, every statement and the search rules are those of the host's
//! PostgreSQL backend (crate `newsfeed-sql`), so both use one database alike.
//! Every read answers at least one row and every other statement goes
//! through `execute`: Spin 4.0.0 to 4.0.2 hang on a `query` that yields no
//! row (spinframework/spin issue 3671; see `db`).

mod db;

use db::{boolean, bytes, int, text, Db};
use exports::newsfeed::feed::{friendships, participants, publishing, search, storage, types};
use newsfeed_sql::cursor::{List, PageRequest};
use newsfeed_sql::postgres as sql;
use newsfeed_sql::{check_text, unknown_participant, SELF_FRIENDSHIP};
use spin_sdk::pg4::{DbValue, ParameterValue};
use types::{Cursor, Error, FeedItem, FriendsPage, Friendship, Id, InboundPage, OutboundPage, Participant, Post};

wit_bindgen::generate!({ world: "spin-adapter", path: "../../wit" });

struct Adapter;

export!(Adapter);

fn page_request(list: List, id: Id, limit: u32, before: Option<Cursor>) -> Result<PageRequest, Error> {
    PageRequest::new(list, id, limit, before.as_deref()).map_err(Error::Invalid)
}

/// A page of one of the lists: runs its statement (the columns: the cursor
/// key, the participant's id, then the item's id, NULL for an empty list,
/// and its fields; always one row at least), checks the cursor with the key,
/// and reads each item's fields with `item` until the page is full: its
/// limit, or its byte budget (`text`).
fn page<T>(
    statement: &str,
    request: &PageRequest,
    item: impl Fn(&[DbValue]) -> Result<T, Error>,
    text: fn(&T) -> usize,
) -> Result<(Vec<T>, Option<String>), Error> {
    let id = request.participant();
    let params = [
        ParameterValue::Int64(id),
        ParameterValue::Int64(request.rows()),
        ParameterValue::Int64(request.seek_unchecked()),
    ];
    let rows = Db::open()?.query(statement, &params)?;
    let head = rows.first().ok_or_else(|| Error::Unavailable("no row from a list statement".into()))?;
    let key = bytes(&head[0])?;
    if matches!(head[1], DbValue::DbNull) {
        return Err(Error::NotFound(unknown_participant(id)));
    }
    // The rows were read below the cursor's id before its tag was checked:
    // none leaves here unless it passes.
    request.seek(&key).map_err(Error::Invalid)?;
    let items = rows.iter().filter(|row| !matches!(row[2], DbValue::DbNull));
    request.page_from(&key, items, |row| Ok((int(&row[2])?, item(row)?)), text)
}

/// The bytes of post text a post holds, against the list's byte budget.
fn post_text(post: &Post) -> usize {
    post.subject.len() + post.story.len()
}

impl storage::Guest for Adapter {
    fn get_participant(id: Id) -> Result<Participant, Error> {
        match &Db::open()?.query_row(sql::PARTICIPANT_NAME, &[ParameterValue::Int64(id)])?[0] {
            DbValue::DbNull => Err(Error::NotFound(unknown_participant(id))),
            name => Ok(Participant { id, name: text(name)? }),
        }
    }

    fn list_friends(id: Id, limit: u32, before: Option<Cursor>) -> Result<FriendsPage, Error> {
        let request = page_request(List::Friends, id, limit, before)?;
        let friendship = |row: &[DbValue]| Ok(Friendship { id: int(&row[2])?, from: id, to: int(&row[3])? });
        let (items, next) = page(sql::LIST_FRIENDS, &request, friendship, |_| 0)?;
        Ok(FriendsPage { items, next })
    }

    fn list_outbound(id: Id, limit: u32, before: Option<Cursor>) -> Result<OutboundPage, Error> {
        let request = page_request(List::Outbound, id, limit, before)?;
        let post = |row: &[DbValue]| {
            Ok(Post { author: id, occurred: text(&row[3])?, subject: text(&row[4])?, story: text(&row[5])? })
        };
        let (items, next) = page(sql::LIST_OUTBOUND, &request, post, post_text)?;
        Ok(OutboundPage { items, next })
    }

    fn list_inbound(id: Id, limit: u32, before: Option<Cursor>) -> Result<InboundPage, Error> {
        let request = page_request(List::Inbound, id, limit, before)?;
        let item = |row: &[DbValue]| {
            let post = Post {
                author: int(&row[3])?,
                occurred: text(&row[4])?,
                subject: text(&row[5])?,
                story: text(&row[6])?,
            };
            Ok(FeedItem { reader: id, post })
        };
        let (items, next) = page(sql::LIST_INBOUND, &request, item, |item| post_text(&item.post))?;
        Ok(InboundPage { items, next })
    }
}

impl participants::Guest for Adapter {
    fn create(name: String) -> Result<Participant, Error> {
        check_text("name", &name).map_err(Error::Invalid)?;
        let id = Db::open()?.query_row(sql::INSERT_PARTICIPANT, &[ParameterValue::Str(name.clone())])?;
        Ok(Participant { id: int(&id[0])?, name })
    }
}

impl friendships::Guest for Adapter {
    fn befriend(a: Id, b: Id) -> Result<Friendship, Error> {
        if a == b {
            return Err(Error::Invalid(SELF_FRIENDSHIP.into()));
        }
        Db::open()?.transaction(|db| {
            let exist =
                db.query_row(sql::EXISTING_PARTICIPANTS, &[ParameterValue::Int64(a), ParameterValue::Int64(b)])?;
            for (id, exists) in [a, b].into_iter().zip(&exist) {
                if !boolean(exists)? {
                    return Err(Error::NotFound(unknown_participant(id)));
                }
            }
            let pair = [ParameterValue::Int64(a.min(b)), ParameterValue::Int64(a.max(b))];
            db.execute(sql::INSERT_FRIENDSHIP, &pair)?;
            match &db.query_row(sql::FRIENDSHIP_ID, &pair)?[0] {
                DbValue::DbNull => Err(Error::Unavailable("the friendship vanished".into())),
                id => Ok(Friendship { id: int(id)?, from: a, to: b }),
            }
        })
    }
}

impl publishing::Guest for Adapter {
    /// One statement, so one transaction: the post, its search vector and
    /// the fan-out land together or not at all.
    fn publish(post: Post) -> Result<Post, Error> {
        check_text("subject", &post.subject).and_then(|()| check_text("story", &post.story)).map_err(Error::Invalid)?;
        let document = newsfeed_sql::search::document(&post.subject, &post.story);
        sql::check_document(&document).map_err(Error::Invalid)?;
        let params = [
            ParameterValue::Int64(post.author),
            ParameterValue::Str(post.occurred.clone()),
            ParameterValue::Str(post.subject.clone()),
            ParameterValue::Str(post.story.clone()),
            ParameterValue::Str(document),
        ];
        match int(&Db::open()?.query_row(sql::PUBLISH, &params)?[0])? {
            0 => Err(Error::NotFound(unknown_participant(post.author))),
            _ => Ok(post),
        }
    }
}

impl search::Guest for Adapter {
    fn find_posters(keywords: Vec<String>, limit: u32) -> Result<Vec<Id>, Error> {
        let distinct = newsfeed_sql::search::keywords(&keywords).map_err(Error::Invalid)?;
        if distinct.is_empty() {
            return Ok(Vec::new());
        }
        let params =
            [ParameterValue::ArrayStr(distinct.into_iter().map(Some).collect()), ParameterValue::Int64(limit.into())];
        match Db::open()?.query_row(sql::SEARCH, &params)?.swap_remove(0) {
            DbValue::ArrayInt64(authors) => authors
                .into_iter()
                .map(|author| author.ok_or_else(|| Error::Unavailable("a search hit without an author".into())))
                .collect(),
            other => Err(Error::Unavailable(format!("expected an int8[], found {other:?}"))),
        }
    }
}
