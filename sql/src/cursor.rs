//! The lists' cursors: the opaque `before` token that a page's `next` link
//! carries, made and checked here for every backend and adapter alike.
//!
//! A cursor is a seek, not an offset: it names the id of the last item a page
//! returned, and the next page is the items of the same list with a smaller
//! id (ids only grow, and every list is newest first). A post published while
//! a reader pages gets a larger id, so it never shifts the pages ahead.
//!
//! A token is `base64url(version, id, tag)`, the tag an HMAC-SHA256 (cut to
//! 128 bits) over the list, the participant and the id, keyed with the
//! database's own cursor key (made at random by a migration, read by each
//! statement that pages). So a token is good only for the list and the
//! participant it was made for, on the database it was made on, by any host
//! or adapter sharing that database; anything else (forged, truncated, from
//! another list or participant) is refused with [`INVALID`], before any item
//! is returned.

use crate::ListBudget;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{KeyInit, Mac};

type Hmac = hmac::Hmac<sha2::Sha256>;

/// The format's version, the token's first byte.
const VERSION: u8 = 1;
/// Bytes of the tag kept: 128 bits.
const TAG: usize = 16;
/// A token's bytes: version, id (big-endian), tag.
const TOKEN: usize = 1 + 8 + TAG;

/// The answer to every bad cursor: it does not say which check failed.
pub const INVALID: &str = "the cursor `before` is not one this list gave out: start again from its first page";

/// The lists that page. The discriminant is part of what a tag covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum List {
    Friends = 1,
    Outbound = 2,
    Inbound = 3,
}

/// A request for one page of `list` of `participant`: at most `limit` items,
/// after the cursor `before` if given. Made before the database is asked
/// (a token that is not even well formed is refused at once); checked
/// against the key ([`seek`](Self::seek)) once it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    list: List,
    participant: i64,
    limit: u32,
    before: Option<(i64, [u8; TAG])>,
}

impl PageRequest {
    /// `Err` is [`INVALID`], for a token that is not one this module made.
    pub fn new(list: List, participant: i64, limit: u32, before: Option<&str>) -> Result<Self, String> {
        let before = before.map(parse).transpose()?;
        Ok(PageRequest { list, participant, limit, before })
    }

    pub fn participant(&self) -> i64 {
        self.participant
    }

    /// How many rows to read: one more than the limit, which tells whether
    /// a next page exists.
    pub fn rows(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// How many items a page holds at most.
    pub fn limit(&self) -> usize {
        self.limit as usize
    }

    /// The id to seek below, once the cursor is checked with the database's
    /// `key`: items with a smaller id come next. No cursor: [`i64::MAX`],
    /// the whole list.
    pub fn seek(&self, key: &[u8]) -> Result<i64, String> {
        match self.before {
            None => Ok(i64::MAX),
            Some((id, tag)) => match self.mac(key, id).verify_truncated_left(&tag) {
                Ok(()) => Ok(id),
                Err(_) => Err(INVALID.into()),
            },
        }
    }

    /// The id the cursor names, not yet checked, for a statement that reads
    /// the key and the page at once (one round trip): its rows must be
    /// dropped unless [`seek`](Self::seek) then passes with the key it read.
    pub fn seek_unchecked(&self) -> i64 {
        self.before.map_or(i64::MAX, |(id, _)| id)
    }

    /// The page from the rows read (`(id, item)`, newest first, at most
    /// [`rows`](Self::rows)): the first `limit` items, and the cursor after
    /// the last of them if more rows follow: if more than `limit` were read,
    /// or if the reader stopped short of the rows there were (`cut_short`,
    /// for the byte budget of a list: `crate::ListBudget`).
    pub fn page<T>(&self, key: &[u8], rows: Vec<(i64, T)>, cut_short: bool) -> (Vec<T>, Option<String>) {
        let more = cut_short || rows.len() > self.limit as usize;
        let mut items = Vec::with_capacity(rows.len().min(self.limit as usize));
        let mut last = None;
        for (id, item) in rows.into_iter().take(self.limit as usize) {
            last = Some(id);
            items.push(item);
        }
        let next = last.filter(|_| more).map(|id| self.cursor_after(key, id));
        (items, next)
    }

    /// The page from rows at hand (newest first, at most
    /// [`rows`](Self::rows)), read one at a time: each is decoded (`decode`
    /// gives its id and item) until the page holds `limit` items or the
    /// list's byte budget is spent (`text`: the bytes of post text an item
    /// holds; [`ListBudget`]). A row past that is not decoded: it only says
    /// that a next page exists. The adapters read their pages so, and so
    /// answer as the host's backends do.
    pub fn page_from<R, T, E>(
        &self,
        key: &[u8],
        rows: impl IntoIterator<Item = R>,
        mut decode: impl FnMut(R) -> Result<(i64, T), E>,
        text: fn(&T) -> usize,
    ) -> Result<(Vec<T>, Option<String>), E> {
        let (mut items, mut last, mut budget) = (Vec::new(), None, ListBudget::default());
        for row in rows {
            if items.len() == self.limit() || !budget.has_room() {
                return Ok((items, last.map(|id| self.cursor_after(key, id))));
            }
            let (id, item) = decode(row)?;
            budget.spend(text(&item));
            last = Some(id);
            items.push(item);
        }
        Ok((items, None))
    }

    /// The cursor of the page that follows the item `id`: a token naming
    /// `id` in this list, for a reader that builds its page row by row.
    pub fn cursor_after(&self, key: &[u8], id: i64) -> String {
        let mut bytes = Vec::with_capacity(TOKEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&self.mac(key, id).finalize().into_bytes()[..TAG]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn mac(&self, key: &[u8], id: i64) -> Hmac {
        // HMAC takes a key of any length.
        let mut mac = <Hmac as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(b"newsfeed cursor");
        mac.update(&[VERSION, self.list as u8]);
        mac.update(&self.participant.to_be_bytes());
        mac.update(&id.to_be_bytes());
        mac
    }
}

/// A token's id and tag, unchecked.
fn parse(token: &str) -> Result<(i64, [u8; TAG]), String> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| INVALID.to_string())?;
    match bytes.as_slice() {
        [VERSION, rest @ ..] if bytes.len() == TOKEN => {
            let (id, tag) = rest.split_at(8);
            let id = i64::from_be_bytes(id.try_into().map_err(|_| INVALID.to_string())?);
            Ok((id, tag.try_into().map_err(|_| INVALID.to_string())?))
        }
        _ => Err(INVALID.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn next(list: List, participant: i64, ids: &[i64], limit: u32) -> String {
        let request = PageRequest::new(list, participant, limit, None).unwrap();
        let rows = ids.iter().map(|&id| (id, id)).collect();
        request.page(KEY, rows, false).1.expect("a next page")
    }

    fn seek(list: List, participant: i64, token: &str) -> Result<i64, String> {
        PageRequest::new(list, participant, 10, Some(token))?.seek(KEY)
    }

    #[test]
    fn a_page_read_row_by_row_ends_at_its_limit_or_its_byte_budget_and_decodes_no_row_past_it() {
        let request = PageRequest::new(List::Inbound, 7, 3, None).unwrap();
        // (id, bytes of text): newest first.
        let read = |rows: &[(i64, usize)]| {
            let mut decoded = 0;
            let page = request.page_from(
                KEY,
                rows.iter().copied(),
                |row| {
                    decoded += 1;
                    Ok::<_, ()>((row.0, row))
                },
                |&(_, bytes)| bytes,
            );
            let (items, next) = page.unwrap();
            let ids: Vec<i64> = items.iter().map(|&(id, _)| id).collect();
            (ids, next.map(|token| seek(List::Inbound, 7, &token).unwrap()), decoded)
        };
        let small = [(9, 10), (8, 10), (7, 10), (6, 10)];
        assert_eq!(read(&small), (vec![9, 8, 7], Some(7), 3), "the limit: the fourth row is not decoded");
        assert_eq!(read(&small[..3]), (vec![9, 8, 7], None, 3), "exactly full: the end");
        let big = [(9, 3 << 20), (8, 1 << 20), (7, 10)];
        assert_eq!(read(&big), (vec![9, 8], Some(8), 2), "4 MiB reached: cut after the item that reached it");
        assert_eq!(read(&big[..2]), (vec![9, 8], None, 2), "no row after the cut: the end");
        let under = [(9, 3 << 20), (8, (1 << 20) - 1), (7, 10)];
        assert_eq!(read(&under), (vec![9, 8, 7], None, 3), "a byte under the budget: the page goes on");
    }

    #[test]
    fn a_page_has_a_next_cursor_only_when_more_rows_follow() {
        let request = PageRequest::new(List::Inbound, 7, 2, None).unwrap();
        assert_eq!(request.rows(), 3);
        let (items, next) = request.page(KEY, vec![(9, 'a'), (5, 'b'), (2, 'c')], false);
        assert_eq!(items, ['a', 'b']);
        assert_eq!(seek(List::Inbound, 7, &next.unwrap()), Ok(5), "the next page starts below the last item");
        assert_eq!(request.page(KEY, vec![(9, 'a'), (5, 'b')], false), (vec!['a', 'b'], None), "exactly full: the end");
        let (items, next) = request.page(KEY, vec![(9, 'a')], true);
        assert_eq!(items, ['a'], "cut short by the budget");
        assert_eq!(seek(List::Inbound, 7, &next.expect("a next page after a cut")), Ok(9));
        assert_eq!(request.page::<char>(KEY, vec![], false), (vec![], None));
        assert_eq!(PageRequest::new(List::Inbound, 7, 2, None).unwrap().seek(KEY), Ok(i64::MAX));
    }

    #[test]
    fn a_cursor_is_good_only_for_its_own_list_participant_and_database() {
        let token = next(List::Outbound, 3, &[40, 30], 1);
        assert_eq!(seek(List::Outbound, 3, &token), Ok(40));
        assert_eq!(seek(List::Inbound, 3, &token), Err(INVALID.into()), "another list");
        assert_eq!(seek(List::Friends, 3, &token), Err(INVALID.into()), "another list");
        assert_eq!(seek(List::Outbound, 4, &token), Err(INVALID.into()), "another participant");
        let elsewhere = PageRequest::new(List::Outbound, 3, 10, Some(&token)).unwrap().seek(b"another key");
        assert_eq!(elsewhere, Err(INVALID.into()), "another database");
    }

    #[test]
    fn malformed_tokens_are_refused_before_any_read() {
        let token = next(List::Friends, 1, &[2, 1], 1);
        for bad in [
            String::new(),
            "x".into(),
            "!!!!".into(),
            token[..token.len() - 1].to_string(),
            format!("{token}A"),
            format!("{token}="),
            token.replace(|c: char| c.is_ascii_alphanumeric(), "+"),
        ] {
            assert_eq!(PageRequest::new(List::Friends, 1, 1, Some(&bad)), Err(INVALID.into()), "{bad:?}");
        }
    }

    proptest! {
        /// Any change to a good token, of any byte, makes it refused: by its
        /// shape at once, or by its tag once checked.
        #[test]
        fn any_tampered_token_is_refused(id in any::<i64>(), at in 0usize..TOKEN, flip in 1u8..=255) {
            let request = PageRequest::new(List::Inbound, 5, 1, None).unwrap();
            let token = request.cursor_after(KEY, id);
            prop_assert_eq!(seek(List::Inbound, 5, &token), Ok(id));
            let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
            bytes[at] ^= flip;
            prop_assert_eq!(seek(List::Inbound, 5, &URL_SAFE_NO_PAD.encode(bytes)), Err(INVALID.to_string()));
        }

        /// Any text that is not a token made here is refused.
        #[test]
        fn any_text_is_refused(text in "\\PC{0,40}|[A-Za-z0-9_-]{34}") {
            prop_assert!(seek(List::Friends, 1, &text).is_err());
        }
    }
}
