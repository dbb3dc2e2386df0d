//! The load's posts, shared with the writer bench (`benches/writer.rs`), so
//! that both publish posts of one shape.

/// The classic test's dictionary: the decimal numbers 0..39999 as words.
pub const DICTIONARY: u32 = 40_000;

/// A post's subject and story: 5 and 150 words drawn from the dictionary.
pub fn subject_and_story(rng: &mut fastrand::Rng) -> (String, String) {
    (words(rng, 5), words(rng, 150))
}

fn words(rng: &mut fastrand::Rng, n: usize) -> String {
    (0..n).map(|_| rng.u32(0..DICTIONARY).to_string()).collect::<Vec<_>>().join(" ")
}
