//! What the host program exports to the examples, and what they print through it.
//!
//! Extensions print by calling `host_print`; the text is kept here, in order, so the demo can
//! show it next to the call that produced it instead of in the middle of a table.

use std::ffi::{c_char, CStr};
use std::sync::{Mutex, PoisonError};

static PRINTED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// `void host_print(const char *message)`: the extensions' only way to talk.
extern "C" fn host_print(message: *const c_char) {
    if message.is_null() {
        return;
    }
    // SAFETY: the examples pass NUL-terminated string literals.
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    PRINTED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(text);
}

// The symbols the demo exports to extensions (`exports!` takes no attributes, so no doc
// comment on the static itself).
elfext::exports! {
    pub static HOST = [fn host_print];
}

/// Everything printed through `host_print` since the last call, in order.
pub fn take_printed() -> Vec<String> {
    std::mem::take(&mut *PRINTED.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Printed lines as one table cell: each quoted, separated by a space.
pub fn quote(lines: &[String]) -> String {
    lines
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(" ")
}
