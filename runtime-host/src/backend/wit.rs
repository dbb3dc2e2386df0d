//! The `newsfeed:feed` WIT package (`wit/feed.wit`), generated for the host:
//! its data types, which the [`Backend`](super::Backend) speaks, and the
//! `Host` traits and linker functions that `wasm::feed` implements over a
//! backend. Generated code only: no logic here.

wasmtime::component::bindgen!({
    path: "wit",
    world: "guest",
    imports: { default: async },
    additional_derives: [PartialEq],
});

pub use newsfeed::feed::*;
