//! A command's output, kept within bounds while it runs: an endless `yes` or a 100 MB log
//! must not grow LocalGPT's memory (a long-running `serve` or daemon would meet the OOM
//! killer). The start and the end are kept — where commands print what they are doing
//! and how it ended — and the middle is only counted; past a hard cap the command is
//! stopped.

use std::collections::VecDeque;

/// Bytes kept of each stream: half from the start, half from the end.
pub(crate) const KEPT_BYTES: usize = 2 * 1024 * 1024;

/// Output (both streams together) past which a command is stopped.
pub(crate) const HARD_CAP_BYTES: u64 = 64 * 1024 * 1024;

/// One stream's output: its first and last bytes, and how many were read in all.
#[derive(Debug)]
pub(crate) struct Bounded {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    half: usize,
    total: u64,
}

impl Bounded {
    /// Keeps at most `kept` bytes (half from the start, half from the end).
    pub fn new(kept: usize) -> Bounded {
        Bounded {
            head: Vec::new(),
            tail: VecDeque::new(),
            half: kept / 2,
            total: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.total = self
            .total
            .saturating_add(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
        let to_head = bytes.len().min(self.half - self.head.len());
        let (first, rest) = bytes.split_at(to_head);
        self.head.extend_from_slice(first);
        if rest.len() >= self.half {
            self.tail.clear();
            self.tail.extend(&rest[rest.len() - self.half..]);
        } else {
            let overflow = (self.tail.len() + rest.len()).saturating_sub(self.half);
            self.tail.drain(..overflow);
            self.tail.extend(rest);
        }
    }

    /// Bytes read in all, kept or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The text: all of it when it fitted, else the start, a line that says how much was
    /// left out, and the end — cut on character boundaries.
    pub(crate) fn into_text(self) -> String {
        let kept = self.head.len() + self.tail.len();
        let omitted = self
            .total
            .saturating_sub(u64::try_from(kept).unwrap_or(u64::MAX));
        let tail: Vec<u8> = self.tail.into_iter().collect();
        if omitted == 0 {
            let mut whole = self.head;
            whole.extend_from_slice(&tail);
            return String::from_utf8_lossy(&whole).into_owned();
        }
        let head = whole_chars_from_start(&self.head);
        let tail = whole_chars_to_end(&tail);
        format!(
            "{}\n[… {omitted} bytes of output omitted …]\n{}",
            String::from_utf8_lossy(head),
            String::from_utf8_lossy(tail)
        )
    }
}

/// `bytes` without a character cut off at its end.
fn whole_chars_from_start(bytes: &[u8]) -> &[u8] {
    match std::str::from_utf8(bytes) {
        Err(err) if err.error_len().is_none() => &bytes[..err.valid_up_to()],
        _ => bytes,
    }
}

/// `bytes` without a character cut off at its start (continuation bytes skipped).
fn whole_chars_to_end(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .take(3)
        .take_while(|byte| (**byte & 0b1100_0000) == 0b1000_0000)
        .count();
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_whole_and_large_output_keeps_both_ends() {
        let mut small = Bounded::new(16);
        small.push(b"hello ");
        small.push(b"world");
        assert_eq!(small.into_text(), "hello world");

        let mut large = Bounded::new(16);
        large.push(b"START---");
        for _ in 0..1000 {
            large.push(b"middle middle ");
        }
        large.push(b"---END!!");
        assert_eq!(large.total(), 8 + 14_000 + 8);
        let text = large.into_text();
        assert!(text.starts_with("START---\n[… 14000 bytes"), "{text}");
        assert!(text.ends_with("\n---END!!"), "{text}");
    }

    #[test]
    fn cuts_never_split_a_character() {
        let mut bounded = Bounded::new(8);
        bounded.push("ééééééééééé".as_bytes());
        let text = bounded.into_text();
        assert!(!text.contains('\u{FFFD}'), "{text}");
        assert!(text.starts_with("éé\n") && text.ends_with("\néé"), "{text}");
    }
}
