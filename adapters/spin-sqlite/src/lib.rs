//! The Spin adapter: a component that exports every `newsfeed:feed` interface
//! on top of the SQLite interface Spin provides (`fermyon:spin/sqlite@2.0.0`,
//! through spin-sdk 5.2's synchronous `spin_sdk::sqlite`).
//!
//! Spin does not know our interfaces. `spin.toml` names this component as each
//! function's dependency for the `newsfeed:feed` package, and `spin up`
//! composes the two: the function's storage, write and search imports land
//! here, unchanged. `newsfeed up --as-spin` runs the same composition on our
//! host, which is how CI proves these artifacts without Spin installed.
//!
//! The schema and every statement are those of the host's embedded backend
//! (crate `newsfeed-sql`), so both read and write the same database file.

mod db;

use db::{read, write, Db, Row};
use exports::newsfeed::feed::{friendships, participants, publishing, search, storage, types};
use newsfeed_sql::cursor::{List, PageRequest};
use newsfeed_sql::sqlite as sql;
use newsfeed_sql::{check_text, unknown_participant, SELF_FRIENDSHIP};
use spin_sdk::sqlite::Value;
use types::{Cursor, Error, FeedItem, FriendsPage, Friendship, Id, InboundPage, OutboundPage, Participant, Post};

wit_bindgen::generate!({ world: "spin-adapter", path: "../../wit" });

struct Adapter;

export!(Adapter);

fn require_participant(db: &Db, id: Id) -> Result<(), Error> {
    match db.query(sql::PARTICIPANT_EXISTS, &[Value::Integer(id)])?.is_empty() {
        true => Err(Error::NotFound(unknown_participant(id))),
        false => Ok(()),
    }
}

impl storage::Guest for Adapter {
    fn get_participant(id: Id) -> Result<Participant, Error> {
        match Db::open()?.query(sql::PARTICIPANT_NAME, &[Value::Integer(id)])?.pop() {
            Some(mut row) => Ok(Participant { id, name: row.text()? }),
            None => Err(Error::NotFound(unknown_participant(id))),
        }
    }

    fn list_friends(id: Id, limit: u32, before: Option<Cursor>) -> Result<FriendsPage, Error> {
        let request = page_request(List::Friends, id, limit, before)?;
        let friendship = |item, row: &mut Row| Ok(Friendship { id: item, from: id, to: row.int()? });
        let (items, next) = page(sql::LIST_FRIENDS, &request, friendship, |_| 0)?;
        Ok(FriendsPage { items, next })
    }

    fn list_outbound(id: Id, limit: u32, before: Option<Cursor>) -> Result<OutboundPage, Error> {
        let request = page_request(List::Outbound, id, limit, before)?;
        let post =
            |_, row: &mut Row| Ok(Post { author: id, occurred: row.text()?, subject: row.text()?, story: row.text()? });
        let (items, next) = page(sql::LIST_OUTBOUND, &request, post, post_text)?;
        Ok(OutboundPage { items, next })
    }

    fn list_inbound(id: Id, limit: u32, before: Option<Cursor>) -> Result<InboundPage, Error> {
        let request = page_request(List::Inbound, id, limit, before)?;
        let item = |_, row: &mut Row| {
            let post = Post { author: row.int()?, occurred: row.text()?, subject: row.text()?, story: row.text()? };
            Ok(FeedItem { reader: id, post })
        };
        let (items, next) = page(sql::LIST_INBOUND, &request, item, |item| post_text(&item.post))?;
        Ok(InboundPage { items, next })
    }
}

fn page_request(list: List, id: Id, limit: u32, before: Option<Cursor>) -> Result<PageRequest, Error> {
    PageRequest::new(list, id, limit, before.as_deref()).map_err(Error::Invalid)
}

/// The bytes of post text a post holds, against the list's byte budget.
fn post_text(post: &Post) -> usize {
    post.subject.len() + post.story.len()
}

/// A page of one of the lists (`statement`, whose first column is each
/// item's id; `item` reads the rest of a row, given that id), with the
/// list's head (the cursor key, the participant's existence) read in the
/// same snapshot, ended by its limit or its byte budget (`text`).
fn page<T>(
    statement: &str,
    request: &PageRequest,
    item: impl Fn(Id, &mut Row) -> Result<T, Error>,
    text: fn(&T) -> usize,
) -> Result<(Vec<T>, Option<String>), Error> {
    let id = request.participant();
    read(|db| {
        let mut head = db.query_one(sql::LIST_HEAD, &[Value::Integer(id)])?;
        let (key, known) = (head.blob()?, head.int()? != 0);
        if !known {
            return Err(Error::NotFound(unknown_participant(id)));
        }
        let seek = request.seek(&key).map_err(Error::Invalid)?;
        let rows = db.query(statement, &[Value::Integer(id), Value::Integer(request.rows()), Value::Integer(seek)])?;
        let decode = |mut row: Row| {
            let item_id = row.int()?;
            Ok((item_id, item(item_id, &mut row)?))
        };
        request.page_from(&key, rows, decode, text)
    })
}

impl participants::Guest for Adapter {
    fn create(name: String) -> Result<Participant, Error> {
        check_text("name", &name).map_err(Error::Invalid)?;
        write(|db| {
            let id = db.query_one(sql::INSERT_PARTICIPANT, &[Value::Text(name.clone())])?.int()?;
            Ok(Participant { id, name })
        })
    }
}

impl friendships::Guest for Adapter {
    fn befriend(a: Id, b: Id) -> Result<Friendship, Error> {
        if a == b {
            return Err(Error::Invalid(SELF_FRIENDSHIP.into()));
        }
        write(|db| {
            require_participant(db, a)?;
            require_participant(db, b)?;
            let pair = [Value::Integer(a.min(b)), Value::Integer(a.max(b))];
            db.query(sql::INSERT_FRIENDSHIP, &pair)?;
            let id = db.query_one(sql::FRIENDSHIP_ID, &pair)?.int()?;
            Ok(Friendship { id, from: a, to: b })
        })
    }
}

impl publishing::Guest for Adapter {
    fn publish(post: Post) -> Result<Post, Error> {
        check_text("subject", &post.subject).and_then(|()| check_text("story", &post.story)).map_err(Error::Invalid)?;
        write(|db| {
            require_participant(db, post.author)?;
            let document = Value::Text(newsfeed_sql::search::document(&post.subject, &post.story));
            let (subject, story) = (Value::Text(post.subject.clone()), Value::Text(post.story.clone()));
            let columns = [Value::Integer(post.author), Value::Text(post.occurred.clone()), subject, story];
            let id = db.query_one(sql::INSERT_POST, &columns)?.int()?;
            db.query(sql::FAN_OUT, &[Value::Integer(post.author), Value::Integer(id)])?;
            db.query(sql::INDEX_POST, &[Value::Integer(id), document])?;
            db.query(sql::MERGE_INDEX, &[Value::Integer(sql::MERGE_PAGES)])?;
            Ok(post)
        })
    }
}

impl search::Guest for Adapter {
    fn find_posters(keywords: Vec<String>, limit: u32) -> Result<Vec<Id>, Error> {
        let distinct = newsfeed_sql::search::keywords(&keywords).map_err(Error::Invalid)?;
        if distinct.is_empty() {
            return Ok(Vec::new());
        }
        let mut values: Vec<Value> = distinct.iter().map(|k| Value::Text(sql::phrase(k))).collect();
        values.push(limit_value(limit));
        Db::open()?.query(&sql::search(distinct.len()), &values)?.into_iter().map(|mut row: Row| row.int()).collect()
    }
}

fn limit_value(limit: u32) -> Value {
    Value::Integer(i64::from(limit))
}
