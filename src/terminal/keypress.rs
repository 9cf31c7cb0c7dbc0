//! One-key questions at a terminal (`Run bash: make test? [y]es / [n]o / [a]lways`): the
//! answer is a single key, without Enter; what was typed before the question appeared is
//! thrown away, so text typed ahead is never taken as the answer; and the question gives
//! up as soon as the turn is cancelled (Ctrl-C) or abandoned.

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::termios::{self, LocalModes, OptionalActions, QueueSelector, SpecialCodeIndex};

use crate::cancel::Cancel;

/// Asks `question` on stderr and waits for one of `keys` on stdin (case-insensitive; Enter
/// and Esc count as `default`). `None` when the terminal cannot be read as keys, when the
/// turn is cancelled, or when `abandoned` is set (the question is no longer wanted).
pub fn ask(
    question: &str,
    keys: &[char],
    default: char,
    cancel: &Cancel,
    abandoned: &AtomicBool,
) -> Option<char> {
    let stdin = io::stdin();
    let fd = stdin.as_fd();
    let original = termios::tcgetattr(fd).ok()?;
    let mut keyed = original.clone();
    // Keys, not lines, and no echo; ISIG stays on, so Ctrl-C still reaches the signal
    // handler that cancels the turn. A read waits at most a tenth of a second, so a
    // cancellation is noticed quickly.
    keyed
        .local_modes
        .remove(LocalModes::ICANON | LocalModes::ECHO);
    keyed.special_codes[SpecialCodeIndex::VMIN] = 0;
    keyed.special_codes[SpecialCodeIndex::VTIME] = 1;
    // Typed ahead, before the question was there to read: not an answer.
    let _ = termios::tcflush(fd, QueueSelector::IFlush);
    termios::tcsetattr(fd, OptionalActions::Now, &keyed).ok()?;
    let _restore = Restore { original };
    {
        let mut err = io::stderr().lock();
        let _ = write!(err, "{question}").and_then(|()| err.flush());
    }
    let mut byte = [0u8; 1];
    let answer = loop {
        if cancel.is_cancelled() || abandoned.load(Ordering::Relaxed) {
            break None;
        }
        match rustix::io::read(fd, &mut byte) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => continue,
            Err(_) => break None,
        }
        let key = char::from(byte[0]).to_ascii_lowercase();
        if keys.contains(&key) {
            break Some(key);
        }
        if matches!(byte[0], b'\r' | b'\n' | 0x1b) {
            break Some(default);
        }
    };
    let shown = match answer {
        Some(key) => key.to_string(),
        None => String::new(),
    };
    let _ = writeln!(io::stderr().lock(), "{shown}");
    answer
}

/// Puts the terminal back as it was, however the question ends.
struct Restore {
    original: termios::Termios,
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(io::stdin().as_fd(), OptionalActions::Now, &self.original);
    }
}

/// Set when the future waiting for an answer is dropped, so the thread reading the key
/// stops too.
pub(crate) struct AbandonOnDrop(pub Arc<AtomicBool>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
