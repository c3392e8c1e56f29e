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

fn open_in(dir: &std::path::Path) -> Result<SqliteStore, liftwatch_store::StoreError> {
    SqliteStore::open(dir, SqliteOptions { tz: chrono_tz::Asia::Shanghai, ..SqliteOptions::default() })
}

/// What was committed is there after the store is closed and opened again
/// (the process restarting), and ingest goes on counting each event once;
/// while a store holds the folder, a second opener is refused, naming the
/// lock file.
#[tokio::test]
async fn committed_data_survives_a_restart_and_the_folder_has_one_holder() {
    use crate::fixtures::*;
    use liftwatch_core::window::Window;
    use liftwatch_store::prelude::*;

    let dir = tempfile::tempdir().unwrap();
    let events = random_events(21, 600, 2);
    let first = messages(&events[..300], 20);
    let s = open_in(dir.path()).unwrap();
    register(&s, 2).await;
    assert_eq!(s.ingest(&first).await.unwrap().new_events, 300);
    let err = open_in(dir.path()).unwrap_err();
    assert!(err.to_string().contains("liftwatch.lock"), "{err}");
    let w = Window::rolling(day("2026-11-28")).unwrap();
    let before = s.project_kpis("haibin", w).await.unwrap();
    drop(s);

    let s = open_in(dir.path()).unwrap();
    assert_eq!(s.project_kpis("haibin", w).await.unwrap(), before);
    let all = messages(&events, 20);
    let r = s.ingest(&all).await.unwrap();
    assert_eq!((r.new_events, r.duplicates), (300, 300));
    assert_matches_ledger(&s, &ledger_of(&events), 2).await;
}
