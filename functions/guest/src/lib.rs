//! The guest library: everything the newsfeed functions share.
//!
//! A function is a screen of business logic: it parses the request with
//! [`request`], calls the backend through the traits of [`backend`], and shapes the
//! answer with [`json`]. Errors of every kind become [`ApiError`], which
//! [`respond`] turns into the contract's `{"error": ...}` JSON.
//!
//! The traits in [`backend`] are the functions' mocking point: in a component
//! they call the WIT imports ([`Wit`]); in unit tests they call the in-memory
//! [`fake::MemoryBackend`] (feature `fake`).
//!
//! A component exports its handler with `http_entry!`, which serves
//! `wasi:http/incoming-handler` through the `entry` module (wasm32 only).

pub mod backend;
#[cfg(target_arch = "wasm32")]
pub mod entry;
pub mod error;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
#[doc(hidden)]
pub mod identity;
pub mod json;
pub mod occurred;
pub mod request;

pub use backend::{Friendships, Participants, Publishing, Search, Storage, Wit};
pub use error::{respond, Answer, ApiError, Reply};
pub use spin_sdk::http::{Method, Request, Response};

/// Bindings for the `newsfeed:feed` WIT package (world `guest`).
///
/// A component imports only the functions it actually calls; the host checks
/// those against the world named in the component's manifest entry.
pub mod bindings {
    wit_bindgen::generate!({
        world: "guest",
        path: "../../wit",
        additional_derives: [PartialEq],
    });
}

pub use bindings::newsfeed::feed::types::{
    Error as BackendError, FeedItem, FriendsPage, Friendship, Id, InboundPage, OutboundPage, Participant, Post,
};
