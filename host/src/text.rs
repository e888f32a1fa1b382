//! Client input quoted back in messages, bounded: a name of a megabyte
//! must not come back whole (in an error, a log line or an audit record).

use std::borrow::Cow;

/// Longest piece of client input quoted back in an error message.
pub const SHOWN_CHARS: usize = 128;

/// Client input as a message may quote it: at most [`SHOWN_CHARS`]
/// characters, then how much was left out.
pub fn shown(text: &str) -> Cow<'_, str> {
    bounded(text, SHOWN_CHARS)
}

/// `text` cut after `max` characters, saying how much was left out.
pub fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}… ({} more bytes)", &text[..cut], text.len() - cut)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_long_text_is_cut_on_a_character_boundary() {
        assert_eq!(shown("pg-1"), "pg-1");
        let long = "é".repeat(SHOWN_CHARS + 10);
        let cut = shown(&long);
        assert!(cut.starts_with(&"é".repeat(SHOWN_CHARS)));
        assert!(cut.ends_with("… (20 more bytes)"), "{cut}");
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("abcd", 3), "abc… (1 more bytes)");
    }
}
