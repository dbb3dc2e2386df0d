//! The function a component implements, written into the component itself
//! so that the host can refuse it under any other name.

/// Marks the component as the function `$name` (the component's name in
/// the manifest), in a `newsfeed:function` custom section. The host refuses
/// to load a marked component under another name, so a hot swap cannot put
/// one function's code on another's routes. `http_entry!` marks each
/// function with its crate's name; a component with its own entry marks
/// itself.
#[macro_export]
macro_rules! implements {
    ($name:expr) => {
        const _: () = {
            const NAME: &str = $name;
            #[cfg_attr(target_arch = "wasm32", link_section = "newsfeed:function")]
            #[used]
            static IMPLEMENTS: [u8; NAME.len()] = $crate::identity::bytes_of(NAME);
        };
    };
}

/// `name`'s bytes as an array, for a custom section's static.
#[doc(hidden)]
pub const fn bytes_of<const N: usize>(name: &str) -> [u8; N] {
    let (mut out, bytes) = ([0; N], name.as_bytes());
    let mut at = 0;
    while at < N {
        out[at] = bytes[at];
        at += 1;
    }
    out
}
