//! Where a store lives: a local directory or an object-store prefix (`s3://bucket/p`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use url::Url;

use super::StoreError;
use crate::source;

/// A store location.
#[derive(Debug, Clone)]
pub struct StoreLocation {
    /// The location as a URL (`file:///abs/dir/` or `s3://bucket/prefix/`), ending in `/`.
    pub url: Url,
    /// The local directory, for `file` URLs.
    pub local: Option<PathBuf>,
}

fn io(path: impl Into<String>, e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Io {
        path: path.into(),
        source: Box::new(e),
    }
}

impl StoreLocation {
    /// Parse a path or URL.
    ///
    /// # Errors
    /// [`StoreError::Io`] for an unparsable URL or a local path that cannot be made absolute.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        if let Some(url) = source::parse_url(s) {
            let url = if url.scheme() == "file" {
                let p = url.to_file_path().map_err(|()| StoreError::InvalidStore {
                    path: s.into(),
                    reason: "not a local file URL".into(),
                })?;
                return Self::local(&p);
            } else {
                with_slash(url)
            };
            return Ok(Self { url, local: None });
        }
        Self::local(Path::new(s))
    }

    fn local(p: &Path) -> Result<Self, StoreError> {
        let abs = std::path::absolute(p).map_err(|e| io(p.display().to_string(), e))?;
        let url = Url::from_directory_path(&abs).map_err(|()| StoreError::InvalidStore {
            path: abs.display().to_string(),
            reason: "cannot form a file URL".into(),
        })?;
        Ok(Self { url, local: Some(abs) })
    }

    /// The object store and prefix path of this location.
    ///
    /// # Errors
    /// [`StoreError::Io`] if no object store can be built for the URL.
    pub fn object_store(&self) -> Result<(Arc<dyn ObjectStore>, ObjectPath), StoreError> {
        source::resolve(&self.url).map_err(|e| io(self.url.as_str(), e))
    }

    /// Read one file of the store, `None` if it does not exist.
    ///
    /// # Errors
    /// [`StoreError::Io`] on other failures.
    pub async fn read(&self, name: &str) -> Result<Option<Bytes>, StoreError> {
        let (store, prefix) = self.object_store()?;
        let path = join(&prefix, name);
        match store.get(&path).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(|e| io(self.display(name), e))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io(self.display(name), e)),
        }
    }

    /// Human-readable name of a file in the store.
    #[must_use]
    pub fn display(&self, name: &str) -> String {
        match &self.local {
            Some(p) => p.join(name).display().to_string(),
            None => format!("{}{name}", self.url),
        }
    }

    /// Write a whole store (or reference directory); the last of `files` is its commit marker
    /// (`vzarr.json`, `.zmetadata`), the file readers open first.
    ///
    /// A local directory is written as a temporary sibling renamed into place. An object-store
    /// prefix has no rename: a new prefix gets every file with the marker put last (an
    /// interrupted run leaves no marker, so readers refuse it); an existing one (only with
    /// `overwrite`) is replaced through a staging prefix beside it — the new files are put
    /// there first, so a failed upload leaves the previous store as it was; then the old marker
    /// is deleted, the files are copied into place (server side), the new marker is copied
    /// last, and objects of the previous store that the new one lacks are deleted.
    pub(crate) async fn write_all(&self, files: Vec<(String, Bytes)>, overwrite: bool) -> Result<(), StoreError> {
        if let Some(dir) = &self.local {
            return write_local(dir, files, overwrite);
        }
        let (store, prefix) = self.object_store()?;
        let existing: Vec<ObjectPath> = store
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| io(self.url.as_str(), e))?;
        if existing.is_empty() {
            return self.put_all(&store, &prefix, &files).await;
        }
        if !overwrite {
            return Err(StoreError::InvalidStore {
                path: self.url.to_string(),
                reason: "already exists (use --overwrite to replace it)".into(),
            });
        }
        let Some((marker, _)) = files.last() else {
            return Ok(());
        };
        if !existing.contains(&join(&prefix, marker)) && !existing.contains(&join(&prefix, "zarr.json")) {
            // Never delete objects that are not a store's: overwrite replaces stores only
            // (a root zarr.json without the marker is a store whose replacement was cut off).
            return Err(StoreError::InvalidStore {
                path: self.url.to_string(),
                reason: format!("already has objects but no {marker} or zarr.json: not a store, so it is not replaced"),
            });
        }
        let staging = staging_prefix(&prefix);
        let staged = StoreLocation {
            url: self
                .url
                .join(&format!("../{}/", staging.filename().unwrap_or_default()))
                .unwrap_or_else(|_| self.url.clone()),
            local: None,
        };
        if let Err(e) = staged.put_all(&store, &staging, &files).await {
            return Err(StoreError::Replace {
                path: self.url.to_string(),
                state: "not replaced; the previous store is unchanged".into(),
                source: Box::new(e),
            });
        }
        let moved = async {
            match store.delete(&join(&prefix, marker)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(io(self.display(marker), e)),
            }
            for (name, _) in &files {
                store
                    .copy(&join(&staging, name), &join(&prefix, name))
                    .await
                    .map_err(|e| io(self.display(name), e))?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = moved {
            return Err(StoreError::Replace {
                path: self.url.to_string(),
                state: format!(
                    "replacing the store failed midway: it has no {marker} now, so readers refuse it; write it again (the new files are staged at {})",
                    staged.url
                ),
                source: Box::new(e),
            });
        }
        let keep: std::collections::HashSet<ObjectPath> = files.iter().map(|(n, _)| join(&prefix, n)).collect();
        let stale = existing.into_iter().filter(|p| !keep.contains(p));
        let staged_paths = files.iter().map(|(n, _)| join(&staging, n));
        for p in stale.chain(staged_paths) {
            // Leftovers are harmless (the marker lists what the store is): best effort.
            if let Err(e) = store.delete(&p).await {
                tracing::warn!("{}: could not delete a leftover object: {e}", p);
            }
        }
        Ok(())
    }

    /// Put every file under `prefix`, the last one after all others; on failure, delete what
    /// was put (best effort).
    async fn put_all(
        &self,
        store: &Arc<dyn ObjectStore>,
        prefix: &ObjectPath,
        files: &[(String, Bytes)],
    ) -> Result<(), StoreError> {
        let mut done = Vec::new();
        for (name, bytes) in files {
            let path = join(prefix, name);
            if let Err(e) = store.put(&path, PutPayload::from_bytes(bytes.clone())).await {
                for p in &done {
                    let _ = store.delete(p).await;
                }
                return Err(io(self.display(name), e));
            }
            done.push(path);
        }
        Ok(())
    }
}

/// A fresh prefix beside `prefix` (`.name.vzarr-staging-<pid>-<nanos>`) for staging a
/// replacement.
fn staging_prefix(prefix: &ObjectPath) -> ObjectPath {
    let name = prefix.filename().unwrap_or("store");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let staged = format!(".{name}.vzarr-staging-{}-{nanos}", std::process::id());
    let parent: Vec<_> = prefix.parts().collect();
    let parent = &parent[..parent.len().saturating_sub(1)];
    parent.iter().cloned().collect::<ObjectPath>().join(staged.as_str())
}

fn with_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    url
}

/// `prefix/name` with each segment taken as it is: `PathPart::from(&str)` would
/// percent-encode characters such as `<` and `>` (HDF5 names may have them), so a store
/// written with local file names would not be found again.
fn join(prefix: &ObjectPath, name: &str) -> ObjectPath {
    name.split('/').fold(prefix.clone(), |p, seg| {
        match object_store::path::PathPart::parse(seg) {
            Ok(part) => p.join(part),
            Err(_) => p.join(seg),
        }
    })
}

/// Write `files` under `dir`, creating directories as needed, on a few threads: a store has
/// one directory and `zarr.json` per node, and creating hundreds of small files one after
/// the other is most of what `create` spends on a large file.
fn write_files_parallel(dir: &Path, files: &[(String, Bytes)]) -> Result<(), StoreError> {
    // Each directory once (parents first), then the files with no directory checks.
    let dirs: std::collections::BTreeSet<PathBuf> = files
        .iter()
        .filter_map(|(rel, _)| dir.join(rel).parent().map(Path::to_path_buf))
        .collect();
    for d in &dirs {
        std::fs::create_dir_all(d).map_err(|e| io(d.display().to_string(), e))?;
    }
    let write = |(rel, bytes): &(String, Bytes)| -> Result<(), StoreError> {
        let p = dir.join(rel);
        std::fs::write(&p, bytes).map_err(|e| io(p.display().to_string(), e))
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    if threads == 1 || files.len() < 32 {
        return files.iter().try_for_each(write);
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| scope.spawn(move || files.iter().skip(t).step_by(threads).try_for_each(write)))
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join().unwrap_or_else(|_| {
                Err(StoreError::InvalidStore {
                    path: dir.display().to_string(),
                    reason: "a store writer thread failed".into(),
                })
            })
        })
    })
}

/// A local store being written: files go into a hidden sibling directory, renamed into place
/// by [`LocalStaging::commit`] (replacing an old store); dropped uncommitted, it is removed.
pub(crate) struct LocalStaging {
    dir: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl LocalStaging {
    /// Check that `dir` may be written (absent, empty, or with `overwrite` a store, recognised
    /// by `marker` or a `zarr.json`) and make the staging directory.
    pub(crate) fn begin(dir: &Path, overwrite: bool, marker: &str) -> Result<Self, StoreError> {
        if dir.exists() && !overwrite {
            return Err(StoreError::InvalidStore {
                path: dir.display().to_string(),
                reason: "already exists (use --overwrite to replace it)".into(),
            });
        }
        let empty = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
        let store = dir.join(marker).is_file() || dir.join("zarr.json").is_file();
        if dir.exists() && !(dir.is_dir() && (empty || store)) {
            // Never delete a directory that is not a store: overwrite replaces stores only.
            return Err(StoreError::InvalidStore {
                path: dir.display().to_string(),
                reason: format!("exists but is not a store (no {marker} or zarr.json), so it is not replaced"),
            });
        }
        let parent = dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| io(parent.display().to_string(), e))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent.join(format!(".{name}.vzarr-tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| io(tmp.display().to_string(), e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            tmp,
            committed: false,
        })
    }

    /// Write `files` (relative paths) into the staging directory.
    pub(crate) fn write(&self, files: &[(String, Bytes)]) -> Result<(), StoreError> {
        write_files_parallel(&self.tmp, files)
    }

    /// Replace `dir` with the staged store.
    pub(crate) fn commit(mut self) -> Result<(), StoreError> {
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).map_err(|e| io(self.dir.display().to_string(), e))?;
        }
        std::fs::rename(&self.tmp, &self.dir).map_err(|e| io(self.dir.display().to_string(), e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for LocalStaging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

fn write_local(dir: &Path, files: Vec<(String, Bytes)>, overwrite: bool) -> Result<(), StoreError> {
    let Some((marker, _)) = files.last() else {
        return Ok(());
    };
    let staging = LocalStaging::begin(dir, overwrite, marker)?;
    staging.write(&files)?;
    staging.commit()
}
