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

/// Env var naming the folder [`child_opens_the_folder`] opens.
const CHILD_DIR: &str = "LW_SQLITE_CHILD_DIR";

/// Run by [`a_second_process_on_the_folder_is_refused`] in a child process:
/// opens the folder and says what happened.
#[test]
#[ignore = "a child process of a_second_process_on_the_folder_is_refused"]
fn child_opens_the_folder() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else { return };
    match open_in(std::path::Path::new(&dir)) {
        Ok(_) => println!("CHILD-OPENED"),
        Err(e) => println!("CHILD-REFUSED: {e}"),
    }
}

/// What the child process said when it opened `dir`.
fn second_process_opens(dir: &std::path::Path) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sqlite::child_opens_the_folder", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Another process opening a folder a store holds is refused at once,
/// naming the lock file (the embedded store serves one process; several
/// need PostgreSQL); once the holder has closed it, the folder opens.
#[test]
fn a_second_process_on_the_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_in(dir.path()).unwrap();
    let said = second_process_opens(dir.path());
    assert!(said.contains("CHILD-REFUSED") && said.contains("liftwatch.lock"), "{said}");
    drop(s);
    let said = second_process_opens(dir.path());
    assert!(said.contains("CHILD-OPENED"), "{said}");
}
