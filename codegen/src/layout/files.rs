//! What each directory entry is (symlinks followed), and reading files that cannot hang or
//! exhaust memory: only regular files, at most [`MAX_FILE_BYTES`].

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::LoadError;

/// The largest file concertina reads: 64 MiB. A phase file is schema changes and batched data
/// moves, kilobytes; this bound only stops a mistake (a data dump, `/dev/zero` linked as
/// `expand.sql`) from filling memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// What a directory entry is, its symlinks followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    /// A FIFO, socket or device: never opened.
    Special(&'static str),
    /// A symlink whose target is missing, or a loop of symlinks.
    BrokenLink,
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub kind: Kind,
}

fn special_kind(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "named pipe (FIFO)";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_char_device() {
            return "character device";
        }
        if file_type.is_block_device() {
            return "block device";
        }
    }
    let _ = file_type;
    "special file"
}

/// What `path` is, its symlinks followed; never opens it.
pub(crate) fn kind_of(path: &Path) -> Result<Kind, LoadError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(Kind::Dir),
        Ok(meta) if meta.is_file() => Ok(Kind::File),
        Ok(meta) => Ok(Kind::Special(special_kind(meta.file_type()))),
        Err(source) => match std::fs::symlink_metadata(path) {
            Ok(link) if link.file_type().is_symlink() => Ok(Kind::BrokenLink),
            _ => Err(LoadError::Io {
                path: path.to_path_buf(),
                source,
            }),
        },
    }
}

/// The entries of `dir` sorted by name, hidden ones (`.git`, `.keep`, editor files) left out as
/// diesel leaves them out, and separately the paths whose names are not UTF-8.
pub(crate) fn entries(dir: &Path) -> Result<(Vec<Entry>, Vec<PathBuf>), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    let mut not_utf8 = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            not_utf8.push(path);
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let kind = kind_of(&path)?;
        out.push(Entry { name, path, kind });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    not_utf8.sort();
    Ok((out, not_utf8))
}

/// Refuses what is not a regular file (after symlinks), before anything opens it.
pub(crate) fn check_regular(path: &Path) -> Result<(), LoadError> {
    let kind = match kind_of(path)? {
        Kind::File => return Ok(()),
        Kind::Dir => "directory",
        Kind::Special(kind) => kind,
        Kind::BrokenLink => {
            return Err(LoadError::BrokenLink {
                path: path.to_path_buf(),
                what: "readable file",
            })
        }
    };
    Err(LoadError::NotRegular {
        path: path.to_path_buf(),
        kind,
    })
}

/// [`check_regular`], and the file's size within [`MAX_FILE_BYTES`]: for a file another module
/// reads (`concertina.toml`).
pub(crate) fn check_readable(path: &Path) -> Result<(), LoadError> {
    check_regular(path)?;
    let size = std::fs::metadata(path)
        .map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(())
}

/// Reads a whole file as UTF-8, refusing what is not a regular file (after symlinks) or is
/// over [`MAX_FILE_BYTES`]. A FIFO is never opened, so this cannot block.
pub(crate) fn read_text(path: &Path) -> Result<String, LoadError> {
    check_regular(path)?;
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let too_large = |size| LoadError::TooLarge {
        path: path.to_path_buf(),
        size,
        limit: MAX_FILE_BYTES,
    };
    if size > MAX_FILE_BYTES {
        return Err(too_large(size));
    }
    // The size can lie (a file still growing, a kernel file reporting 0): read one byte past
    // the limit at most.
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8 {
        path: path.to_path_buf(),
    })
}
