//! Which CSV files an instrument may read, decided when the instrument is registered.
//!
//! A CSV instrument's file is read by every later sync, and a failed read's message lands in the
//! run record and the history. So a file named over the network (the API, the dashboard) must be
//! a regular file inside the configured data folder (`[sources.csv] root`), resolved with every
//! `..` and symlink followed; the command line, run by whoever owns the machine, may name any
//! regular file, but never a device or a `/proc` or `/sys` entry. The CSV source re-checks the
//! kind of file when it reads it.

use std::path::{Component, Path, PathBuf};

// Kernel and device trees, the ones the CSV source refuses when it reads: never data, and
// reading them can leak the process's secrets (`/proc/self/environ`) or never end (`/dev/zero`).
use barter_sources::csv_file::FORBIDDEN_DIRS;

/// Where an instrument's CSV file may be.
#[derive(Debug, Clone, Copy)]
pub enum CsvAccess<'a> {
    /// Any regular file outside `/proc`, `/sys` and `/dev` (the command line).
    AnyRegularFile,
    /// Only regular files inside this folder (the API and the dashboard).
    Under(&'a Path),
}

/// Why a CSV file may not be used (its message names the file as given, never its content),
/// and which kind of reason it is: an API answers each kind with its own status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CsvRefusal {
    /// Which kind of reason.
    pub kind: CsvRefusalKind,
    /// The reason, for the user.
    pub message: String,
}

/// The kinds of [`CsvRefusal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvRefusalKind {
    /// The path itself is malformed: empty, or with control characters.
    Malformed,
    /// The file is outside the folder it may be read from, or a system file.
    Forbidden,
    /// The file does not exist, cannot be opened, or is not a regular file.
    Unusable,
}

/// A [`CsvRefusal`] of `kind`.
fn refusal(kind: CsvRefusalKind) -> impl Fn(String) -> CsvRefusal {
    move |message| CsvRefusal { kind, message }
}

/// Checks `path` for a CSV instrument and returns the file to store: the path as given for
/// [`CsvAccess::AnyRegularFile`], the resolved absolute path for [`CsvAccess::Under`] (so the
/// check made now still holds when a sync reads it).
///
/// # Errors
/// Why the file may not be used, naming it as given (never its content).
pub fn csv_file(path: &str, access: CsvAccess<'_>) -> Result<String, CsvRefusal> {
    let (malformed, forbidden, unusable) = (
        refusal(CsvRefusalKind::Malformed),
        refusal(CsvRefusalKind::Forbidden),
        refusal(CsvRefusalKind::Unusable),
    );
    let given = shown(path);
    if path.trim().is_empty() {
        return Err(malformed("the CSV path is empty: name a file".to_owned()));
    }
    if path.chars().any(char::is_control) {
        return Err(malformed(format!(
            "the CSV path {given} contains control characters"
        )));
    }
    match access {
        CsvAccess::AnyRegularFile => {
            let resolved =
                std::fs::canonicalize(path).map_err(|e| unusable(unreadable(&given, &e)))?;
            regular_file(&resolved, &given)?;
            Ok(path.to_owned())
        }
        CsvAccess::Under(root) => {
            let root = std::fs::canonicalize(root).map_err(|e| {
                unusable(format!(
                    "the CSV data folder {} cannot be used ({e}); create it and put the files \
                     there, or set [sources.csv] root",
                    root.display()
                ))
            })?;
            let relative = Path::new(path);
            // `..` is refused outright rather than resolved: a name inside the data folder
            // never needs it, and refusing it keeps the answer the same whatever exists.
            if relative.components().any(|c| c == Component::ParentDir) {
                return Err(forbidden(format!(
                    "CSV file {given} is outside the data folder: `..` is not allowed; name a \
                     file inside {}",
                    root.display()
                )));
            }
            // An absolute path outside the folder is refused before the file system is asked,
            // so the answer does not tell whether such a file exists.
            if relative.is_absolute() && !relative.starts_with(&root) {
                return Err(forbidden(format!(
                    "CSV file {given} is outside the data folder {}: files added through the \
                     API or the dashboard must be inside it",
                    root.display()
                )));
            }
            let joined = if relative.is_absolute() {
                relative.to_owned()
            } else {
                root.join(relative)
            };
            let resolved = std::fs::canonicalize(&joined).map_err(|e| {
                unusable(format!(
                    "{} in the data folder {}",
                    unreadable(&given, &e),
                    root.display()
                ))
            })?;
            if !resolved.starts_with(&root) {
                return Err(forbidden(format!(
                    "CSV file {given} is outside the data folder {}: files added through the \
                     API or the dashboard must be inside it (a symlink out of it does not count)",
                    root.display()
                )));
            }
            regular_file(&resolved, &given)?;
            Ok(resolved.display().to_string())
        }
    }
}

/// Why a file cannot be opened, in the words a user acts on.
fn unreadable(given: &str, error: &std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::NotFound {
        format!("CSV file {given} does not exist (give the path of an existing file)")
    } else {
        format!("CSV file {given} cannot be opened: {error}")
    }
}

/// Refuses kernel trees and anything that is not a regular file.
fn regular_file(resolved: &Path, given: &str) -> Result<(), CsvRefusal> {
    let unusable = refusal(CsvRefusalKind::Unusable);
    if FORBIDDEN_DIRS.iter().any(|tree| resolved.starts_with(tree)) {
        return Err(refusal(CsvRefusalKind::Forbidden)(format!(
            "CSV file {given} is a system file ({}): only regular data files can be read",
            resolved.display()
        )));
    }
    let metadata = std::fs::metadata(resolved)
        .map_err(|e| unusable(format!("CSV file {given} cannot be read: {e}")))?;
    if !metadata.is_file() {
        let what = if metadata.is_dir() {
            "a folder"
        } else {
            "not a regular file (a device, pipe or socket)"
        };
        return Err(unusable(format!(
            "CSV file {given} is {what}: name a regular file"
        )));
    }
    Ok(())
}

/// A path as shown in messages: quoted, cut as the CSV source cuts the paths it shows.
fn shown(path: &str) -> String {
    let cut = barter_sources::excerpt::excerpt_max(path, barter_sources::MAX_SHOWN_PATH_CHARS);
    format!("`{cut}`")
}

/// The CSV data folder for a database URL when `[sources.csv] root` is not set: `data/` next to
/// a SQLite file, or in the working directory for PostgreSQL.
pub fn default_root(database_url: &str) -> PathBuf {
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest));
    match file.map(Path::new).and_then(Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("data"),
        _ => PathBuf::from("data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_paths_stay_inside_the_data_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("data");
        std::fs::create_dir(&root).expect("mkdir");
        std::fs::write(root.join("btc.csv"), "date,open,high,low,close,volume\n").expect("write");
        std::fs::write(dir.path().join("secret.csv"), "x").expect("write");
        std::os::unix::fs::symlink(dir.path().join("secret.csv"), root.join("link.csv"))
            .expect("symlink");
        std::os::unix::fs::symlink("/proc/self/environ", root.join("env.csv")).expect("symlink");
        std::fs::create_dir(root.join("sub")).expect("mkdir");
        let under = CsvAccess::Under(&root);

        let ok = csv_file("btc.csv", under).expect("inside");
        assert!(ok.ends_with("data/btc.csv"), "{ok}");
        let absolute = root.join("btc.csv").display().to_string();
        assert!(csv_file(&absolute, under).is_ok());

        for (path, expected) in [
            ("../secret.csv", "`..` is not allowed"),
            ("link.csv", "outside the data folder"),
            ("env.csv", "outside the data folder"),
            ("/proc/self/environ", "outside the data folder"),
            ("/etc/passwd", "outside the data folder"),
            ("/no/such/file.csv", "outside the data folder"),
            ("sub", "a folder"),
            ("missing.csv", "does not exist"),
            ("", "empty"),
            ("a\nb.csv", "control characters"),
        ] {
            let error = csv_file(path, under).expect_err(path).to_string();
            assert!(error.contains(expected), "{path}: {error}");
        }
        // The kind an API answers by: 403, 404 or 422.
        let kind = |path: &str| csv_file(path, under).expect_err(path).kind;
        assert_eq!(kind("../secret.csv"), CsvRefusalKind::Forbidden);
        assert_eq!(kind("/no/such/file.csv"), CsvRefusalKind::Forbidden);
        assert_eq!(kind("link.csv"), CsvRefusalKind::Forbidden);
        assert_eq!(kind("missing.csv"), CsvRefusalKind::Unusable);
        assert_eq!(kind("sub"), CsvRefusalKind::Unusable);
        assert_eq!(kind(""), CsvRefusalKind::Malformed);
    }

    #[test]
    fn the_command_line_may_name_any_regular_file_but_no_system_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("x.csv");
        std::fs::write(&file, "x").expect("write");
        let path = file.display().to_string();
        assert_eq!(csv_file(&path, CsvAccess::AnyRegularFile), Ok(path.clone()));
        for (path, expected) in [
            ("/proc/self/environ", "system file"),
            ("/dev/zero", "system file"),
            ("/sys/kernel/mm", "system file"),
            ("/tmp", "a folder"),
        ] {
            let error = csv_file(path, CsvAccess::AnyRegularFile)
                .expect_err(path)
                .to_string();
            assert!(error.contains(expected), "{path}: {error}");
        }
        let long = "x".repeat(100_000);
        let error = csv_file(&long, CsvAccess::AnyRegularFile)
            .expect_err("long")
            .to_string();
        assert!(error.len() < 400, "{}", error.len());
    }

    #[test]
    fn the_default_data_folder_sits_next_to_the_database() {
        assert_eq!(
            default_root("sqlite:///var/lib/barter/barter.db"),
            PathBuf::from("/var/lib/barter/data")
        );
        assert_eq!(default_root("sqlite://barter.db"), PathBuf::from("data"));
        assert_eq!(
            default_root("sqlite://dir/b.db?mode=rwc"),
            PathBuf::from("dir/data")
        );
        assert_eq!(default_root("postgres://u@h/db"), PathBuf::from("data"));
    }
}
