//! What a command prints on stdout: collected, then written at once. A reader that goes away
//! (`jwt-authz explain ... | head -1`) is not an error: the command ends quietly with its exit
//! status instead of panicking on the closed pipe.

use std::fmt::{self, Write as _};
use std::io::{self, Write as _};

use super::CommandError;

/// A command's standard output.
#[derive(Debug, Default)]
pub(crate) struct Output(String);

impl Output {
    /// Appends one line.
    pub(crate) fn line(&mut self, args: fmt::Arguments<'_>) {
        // Writing into a String cannot fail.
        let _ = self.0.write_fmt(args);
        self.0.push('\n');
    }

    /// Writes everything to stdout; a closed pipe is fine.
    pub(crate) fn emit(self) -> Result<(), CommandError> {
        let mut stdout = io::stdout().lock();
        match stdout
            .write_all(self.0.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(CommandError::Output(e)),
            _ => Ok(()),
        }
    }
}

/// `say!(out, "...", args)`: one line of output.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        $out.line(format_args!($($arg)*))
    };
}
pub(crate) use say;
