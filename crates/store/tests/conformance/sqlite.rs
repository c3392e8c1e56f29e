//! The embedded SQLite store as a conformance backend: a fresh store in a
//! temporary folder per test (removed with the guard).

use liftwatch_store::{SqliteOptions, SqliteStore};
use tempfile::TempDir;

use crate::Factory;

/// SQLite in a temporary folder, local days in Asia/Shanghai.
pub struct Sqlite;

impl Factory for Sqlite {
    type S = SqliteStore;
    type Guard = TempDir;

    async fn open(&self, tag: &str) -> (SqliteStore, TempDir) {
        let dir = tempfile::Builder::new().prefix(&format!("lw-sqlite-{tag}-")).tempdir().unwrap();
        let path = dir.path().to_owned();
        let opts = SqliteOptions { tz: chrono_tz::Asia::Shanghai, ..SqliteOptions::default() };
        let s = tokio::task::spawn_blocking(move || SqliteStore::open(&path, opts)).await.unwrap().unwrap();
        (s, dir)
    }
}
