//! The search rules, in Rust rather than in either database's tokenizer, so
//! that SQLite's FTS5 and PostgreSQL's `tsvector` see the very same words:
//!
//! - a word is a run of alphanumeric characters (Unicode's notion); every
//!   other character separates words, NUL and other control characters
//!   included;
//! - words are lower-cased (Unicode's full case folding of `to_lowercase`);
//! - a word of more than [`MAX_WORD_BYTES`] (lower-cased) is no word: it is
//!   neither indexed nor searched for;
//! - a keyword is a word: a keyword holding separators (`fox-dog`,
//!   `"fox"`) is the words it holds, each a keyword of its own.
//!
//! A backend indexes [`document`] and searches for [`keywords`]. Neither
//! holds any character but letters, digits and single spaces, so nothing a
//! user writes can reach a query language.

/// The most distinct keywords one search may hold.
pub const MAX_KEYWORDS: usize = 32;

/// The longest word indexed, in bytes: the longest PostgreSQL takes in a
/// `tsquery` (and its parser in a `tsvector`), one less than a lexeme's
/// 11 bits hold. A longer one would be refused there, or stored wrong, so no
/// backend keeps it, and every backend answers alike.
pub const MAX_WORD_BYTES: usize = 2046;

/// The words of `text`, lower-cased, in order, repeats kept. Lower-cased
/// before it is split: folding may yield a mark that is not a letter (`İ`
/// becomes `i` and a combining dot), and that must separate too.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    split(&text.to_lowercase(), |word| words.push(word.to_string()));
    words
}

/// Hands each word (of at most [`MAX_WORD_BYTES`]) of an already
/// lower-cased `text` to `word`, borrowed from it. ASCII text, most of what is written, is split a byte at a time: there
/// a byte is a character, and `is_ascii_alphanumeric` is `is_alphanumeric`.
/// Any other text is split a character at a time.
fn split<'a>(lowered: &'a str, mut word: impl FnMut(&'a str)) {
    let mut word = move |found: &'a str| {
        if found.len() <= MAX_WORD_BYTES {
            word(found)
        }
    };
    if !lowered.is_ascii() {
        lowered.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).for_each(word);
        return;
    }
    let mut start = 0;
    for (i, byte) in lowered.bytes().enumerate() {
        if !byte.is_ascii_alphanumeric() {
            if start < i {
                word(&lowered[start..i]);
            }
            start = i + 1;
        }
    }
    if start < lowered.len() {
        word(&lowered[start..]);
    }
}

/// What a post is indexed under: each distinct word of its subject and story
/// once, in order, separated by single spaces. Every post is folded so on
/// the write path; to keep that cheap, the words stay slices of the two
/// lower-cased texts rather than a `String` each, and are sorted by
/// [`sort_key`] first.
pub fn document(subject: &str, story: &str) -> String {
    let (subject, story) = (subject.to_lowercase(), story.to_lowercase());
    // About one word in every five bytes, enough that the list rarely grows.
    let mut keyed = Vec::with_capacity((subject.len() + story.len()) / 5);
    for text in [&subject, &story] {
        split(text, |word| keyed.push((sort_key(word), word)));
    }
    keyed.sort_unstable();
    keyed.dedup_by(|next, kept| next.1 == kept.1);
    let mut document = String::with_capacity(subject.len() + story.len());
    for (_, word) in keyed {
        if !document.is_empty() {
            document.push(' ');
        }
        document.push_str(word);
    }
    document
}

/// A word's first eight bytes as one big-endian integer, zero-padded: two
/// words' keys compare as the words do, or are equal when the words share
/// those bytes. (A word holds no NUL, so padding sorts before any byte it
/// holds, as the end of a shorter word does.) Sorting by key, then by the
/// word, settles most comparisons with one integer compare.
fn sort_key(word: &str) -> u64 {
    let mut first = [0u8; 8];
    let n = word.len().min(8);
    first[..n].copy_from_slice(&word.as_bytes()[..n]);
    u64::from_be_bytes(first)
}

/// The distinct words a search looks for, sorted. `Err` names the rule
/// broken when more than [`MAX_KEYWORDS`] remain.
pub fn keywords(given: &[String]) -> Result<Vec<String>, String> {
    let mut distinct: Vec<String> = given.iter().flat_map(|keyword| words(keyword)).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() > MAX_KEYWORDS {
        return Err(format!("at most {MAX_KEYWORDS} distinct keywords"));
    }
    Ok(distinct)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn words_are_alphanumeric_runs_lower_cased() {
        let found = words("Fox-DOG, \"Über\" a\0b\tc 3rd");
        assert_eq!(found, strings(&["fox", "dog", "über", "a", "b", "c", "3rd"]));
    }

    #[test]
    fn a_document_holds_each_word_once() {
        assert_eq!(document("Fox news", "the fox, the dog"), "dog fox news the");
    }

    #[test]
    fn keywords_are_split_folded_deduplicated_and_bounded() {
        assert_eq!(
            keywords(&strings(&["Fox", "fox-dog", "-", "\"", "a\0b"])).unwrap(),
            strings(&["a", "b", "dog", "fox"])
        );
        let many: Vec<String> = (0..=MAX_KEYWORDS).map(|i| format!("w{i}")).collect();
        assert!(keywords(&many).is_err());
        assert_eq!(keywords(&many[..MAX_KEYWORDS]).unwrap().len(), MAX_KEYWORDS);
        // More than 32 given, but only 32 distinct words among them.
        assert_eq!(keywords(&[many[..MAX_KEYWORDS].join(" "), "W0".into()]).unwrap().len(), MAX_KEYWORDS);
    }

    proptest::proptest! {
        #[test]
        fn ascii_text_splits_as_any_text_does(text in "[\\x00-\\x7f]*") {
            let mut fast = Vec::new();
            split(&text, |word| fast.push(word));
            let by_character: Vec<&str> =
                text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty() && w.len() <= MAX_WORD_BYTES).collect();
            proptest::prop_assert_eq!(fast, by_character);
        }

        #[test]
        fn words_sort_by_key_as_they_sort_by_text(a in "[a-z0-9é]{0,12}", b in "[a-z0-9é]{0,12}") {
            proptest::prop_assert_eq!((sort_key(&a), &a).cmp(&(sort_key(&b), &b)), a.cmp(&b));
        }

        #[test]
        fn keywords_are_distinct_sorted_words_of_letters_and_digits(given in proptest::collection::vec(".*", 0..40)) {
            match keywords(&given) {
                Ok(words) => {
                    proptest::prop_assert!(words.len() <= MAX_KEYWORDS);
                    proptest::prop_assert!(words.windows(2).all(|pair| pair[0] < pair[1]));
                    for word in &words {
                        proptest::prop_assert!(!word.is_empty() && word.chars().all(char::is_alphanumeric), "{:?}", word);
                        proptest::prop_assert_eq!(&word.to_lowercase(), word);
                    }
                }
                Err(rule) => proptest::prop_assert!(rule.contains("32")),
            }
        }

        #[test]
        fn a_document_is_distinct_words_and_single_spaces(subject in ".*", story in "\\PC*") {
            let document = document(&subject, &story);
            let words: Vec<&str> = document.split(' ').collect();
            proptest::prop_assert!(document.is_empty() || words.iter().all(|w| !w.is_empty()));
            proptest::prop_assert!(words.windows(2).all(|pair| pair[0] < pair[1]));
            proptest::prop_assert!(document.chars().all(|c| c == ' ' || c.is_alphanumeric()));
        }
    }

    #[test]
    fn a_word_longer_than_a_lexeme_is_no_word() {
        let (longest, over) = ("a".repeat(MAX_WORD_BYTES), "b".repeat(MAX_WORD_BYTES + 1));
        assert_eq!(words(&format!("{longest} {over} c")), [longest.clone(), "c".to_string()]);
        assert_eq!(words(&format!("é{over}")), Vec::<String>::new(), "the non-ASCII path too");
        assert_eq!(document(&over, &longest), longest);
    }

    #[test]
    fn other_numbers_are_word_characters() {
        assert_eq!(words("MC² ½ ① x²y"), ["mc²", "½", "①", "x²y"]);
    }

    #[test]
    fn folding_that_yields_a_mark_splits_there() {
        assert_eq!(words("İstanbul"), ["i", "stanbul"]);
    }

    #[test]
    fn no_keyword_holds_anything_but_letters_and_digits() {
        let hostile = strings(&["' & | ! :* ( ) <-> \\ \" NEAR(a b) \u{1} OR"]);
        for keyword in keywords(&hostile).unwrap() {
            assert!(keyword.chars().all(char::is_alphanumeric), "{keyword:?}");
        }
    }
}
