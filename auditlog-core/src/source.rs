//! Inputs: files, folders (recursively, rotated files in order) and standard input.

use std::cmp::Ordering;
use std::fs::File;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::format::Item;
use crate::read::{read, ReadOptions, ReadSummary};

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Input {
    /// The name used in messages and in the `file` field of outputs (`-` for standard input).
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".to_string(),
            Input::File(p) => p.display().to_string(),
        }
    }

    /// Reads this input; see [`read`]. Errors carry the input's path.
    pub fn read<F>(&self, opts: &ReadOptions, sink: F) -> Result<ReadSummary, Error>
    where
        F: FnMut(Item<'_>) -> ControlFlow<()>,
    {
        self.with_reader(|_, r| read(r, opts, sink))
    }

    /// Opens this input and hands it to `f` with its name; errors (opening it, or from `f`) carry the name.
    pub(crate) fn with_reader<T>(&self, f: impl FnOnce(&str, &mut dyn Read) -> Result<T, Error>) -> Result<T, Error> {
        let name = self.name();
        let res = match self {
            Input::Stdin => f(&name, &mut std::io::stdin().lock()),
            Input::File(p) => match File::open(p) {
                Ok(mut file) => f(&name, &mut file),
                Err(e) => Err(Error::from(e).with_path(p)),
            },
        };
        res.map_err(|e| if e.path().is_none() { e.with_path(name) } else { e })
    }
}

/// Records an input that failed before anything of it was read (so no summary of it exists yet).
pub(crate) fn note_failed_input(inputs: &mut Vec<crate::analyze::InputSummary>, input: &Input, e: &Error) {
    let name = input.name();
    if inputs.last().is_none_or(|i| i.file != name) {
        inputs.push(crate::analyze::InputSummary {
            file: name,
            read: ReadSummary::default(),
            error: Some(e.to_string()),
        });
    }
}

/// Expands command-line paths into inputs: `-` is standard input, a folder is walked recursively with its files
/// in rotation order (see [`rotation_cmp`]), anything else is a file. Hidden files (`.name`) inside folders are
/// skipped.
///
/// ```
/// # use std::path::PathBuf;
/// use auditlog_core::source::{expand, Input};
/// let inputs = expand(&[PathBuf::from("-")])?;
/// assert_eq!(inputs, [Input::Stdin]);
/// # Ok::<(), auditlog_core::Error>(())
/// ```
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Input>, Error> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Input::Stdin);
        } else if p.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files)?;
            files.sort_by(|a, b| rotation_cmp(a, b));
            out.extend(files.into_iter().map(Input::File));
        } else {
            out.push(Input::File(p.clone()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::from(e).with_path(dir))?;
    for entry in rd {
        let entry = entry.map_err(|e| Error::from(e).with_path(dir))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry.file_type().map_err(|e| Error::from(e).with_path(&path))?;
        if ft.is_dir() {
            walk(&path, out)?;
        } else if ft.is_file() || (ft.is_symlink() && path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

/// A piece of a file name for natural ordering.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Piece<'a> {
    Num(u128),
    Text(&'a str),
}

fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = s.as_bytes();
    while start < b.len() {
        let digit = b.get(start).is_some_and(u8::is_ascii_digit);
        let mut end = start;
        while end < b.len() && b.get(end).is_some_and(u8::is_ascii_digit) == digit {
            end += 1;
        }
        let part = s.get(start..end).unwrap_or_default();
        out.push(match part.parse::<u128>() {
            Ok(n) if digit => Piece::Num(n),
            _ => Piece::Text(part),
        });
        start = end;
    }
    out
}

/// Splits `name` into (base, rotation suffix): `server_audit.log.3` → (`server_audit.log`, `3`);
/// `mysql-error-running.log.2021-12-14.20` → (`mysql-error-running.log`, `2021-12-14.20`);
/// `audit.log.0.2024-01-04-08-30.0` → (`audit.log`, `0.2024-01-04-08-30.0`). Gzip suffixes are ignored.
fn rotation_parts(name: &str) -> (&str, &str) {
    let name = name.strip_suffix(".gz").unwrap_or(name);
    match name.find(".log.") {
        Some(i) => (name.get(..i + 4).unwrap_or(name), name.get(i + 5..).unwrap_or_default()),
        None => (name, ""),
    }
}

/// Orders files the way their log was written: by folder and base name, then rotated files before the live
/// file; numbered rotations (`x.log.3`, `x.log.2`, `x.log.1`, as logrotate and the audit plugin number them,
/// higher is older) in descending order; date-stamped rotations (`x.log.2024-01-04.08`) in ascending order.
/// Aurora's four audit stripes are read one after another; analysis orders events by timestamp anyway.
#[must_use]
pub fn rotation_cmp(a: &Path, b: &Path) -> Ordering {
    let (da, db) = (a.parent(), b.parent());
    if da != db {
        return da.cmp(&db);
    }
    let na = a.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let nb = b.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (ba, sa) = rotation_parts(&na);
    let (bb, sb) = rotation_parts(&nb);
    pieces(ba)
        .cmp(&pieces(bb))
        .then_with(|| match (sa.is_empty(), sb.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let numbered = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
                if numbered(sa) && numbered(sb) {
                    pieces(sb).cmp(&pieces(sa))
                } else {
                    pieces(sa).cmp(&pieces(sb))
                }
            }
        })
        .then_with(|| na.cmp(&nb))
}

/// Opens a path for reading, with an error that names it.
pub fn open(path: &Path) -> Result<impl Read, Error> {
    File::open(path).map_err(|e| Error::from(e).with_path(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_order() {
        let mut v: Vec<PathBuf> = [
            "d/server_audit.log",
            "d/server_audit.log.1",
            "d/server_audit.log.10",
            "d/server_audit.log.2",
            "e/mysql-error-running.log",
            "e/mysql-error-running.log.2021-12-14.20",
            "e/mysql-error-running.log.2021-12-14.3",
            "e/mysql-error-running.log.2021-12-13.23",
            "a/audit.log.1.2024-01-04-08-30.0",
            "a/audit.log.0.2024-01-04-08-30.0",
            "a/audit.log.0.2024-01-04-08-30.1",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        v.sort_by(|a, b| rotation_cmp(a, b));
        let names: Vec<String> = v.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "a/audit.log.0.2024-01-04-08-30.0",
                "a/audit.log.0.2024-01-04-08-30.1",
                "a/audit.log.1.2024-01-04-08-30.0",
                "d/server_audit.log.10",
                "d/server_audit.log.2",
                "d/server_audit.log.1",
                "d/server_audit.log",
                "e/mysql-error-running.log.2021-12-13.23",
                "e/mysql-error-running.log.2021-12-14.3",
                "e/mysql-error-running.log.2021-12-14.20",
                "e/mysql-error-running.log",
            ]
        );
    }
}
