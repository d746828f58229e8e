//! The CLI's command language (`virtkit -c URI 'cmd; cmd'`, the shell's lines): quoting,
//! escapes, comments, `;` and every command's options. No panic; a syntax error is a message.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match virtkit_cli::fuzzing::parse_command_string(text) {
        Ok(n) => assert!(n <= text.len()),
        Err(e) => assert!(!e.is_empty()),
    }
});
