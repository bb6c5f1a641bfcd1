//! Where a store lives: a local directory or an object-store prefix (`s3://bucket/p`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
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

    pub(crate) async fn write_all(&self, files: Vec<(String, Bytes)>, overwrite: bool) -> Result<(), StoreError> {
        if let Some(dir) = &self.local {
            return write_local(dir, files, overwrite);
        }
        let (store, prefix) = self.object_store()?;
        for (name, bytes) in files {
            store
                .put(&join(&prefix, &name), PutPayload::from_bytes(bytes))
                .await
                .map_err(|e| io(self.display(&name), e))?;
        }
        Ok(())
    }
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

fn write_local(dir: &Path, files: Vec<(String, Bytes)>, overwrite: bool) -> Result<(), StoreError> {
    if dir.exists() && !overwrite {
        return Err(StoreError::InvalidStore {
            path: dir.display().to_string(),
            reason: "already exists (use --overwrite to replace it)".into(),
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
    let result = (|| {
        for (rel, bytes) in &files {
            let p = tmp.join(rel);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(|e| io(d.display().to_string(), e))?;
            }
            std::fs::write(&p, bytes).map_err(|e| io(p.display().to_string(), e))?;
        }
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| io(dir.display().to_string(), e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| io(dir.display().to_string(), e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}
