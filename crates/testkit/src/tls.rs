//! A throw-away certificate authority and a server certificate signed by it
//! (openssl(1), installed wherever PostgreSQL is): what a test needs to run
//! a server over TLS and a client that verifies it. Removed on drop.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A CA (`ca.pem`) and a server certificate for `localhost` only
/// (`server.pem`, `server.key`), in a folder of their own.
pub struct TestCa {
    /// The folder holding them.
    pub dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let ok = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("running openssl (is it installed?)")
        .success();
    assert!(ok, "openssl {args:?} failed");
}

impl TestCa {
    /// Makes the CA and the server certificate (P-256, valid two days) in
    /// `<temp>/lw-tls-<pid>-<tag>`. The certificate names `localhost` only, so
    /// a client that checks the name refuses it for `127.0.0.1`.
    pub fn new(tag: &str) -> TestCa {
        let dir = std::env::temp_dir().join(format!("lw-tls-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"];
        let mut ca = vec!["req", "-x509", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=liftwatch test CA"];
        ca.extend(key);
        openssl(&dir, &ca);
        let mut server = vec![
            "req",
            "-x509",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-keyout",
            "server.key",
            "-out",
            "server.pem",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ];
        server.extend(key);
        openssl(&dir, &server);
        TestCa { dir }
    }

    /// The CA's certificate (PEM): the root a verifying client trusts.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The server's certificate (PEM).
    pub fn cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    /// The server's private key (PEM).
    pub fn key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
