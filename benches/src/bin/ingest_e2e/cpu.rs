//! Where the CPU goes: per-process CPU time from /proc, sampled at the start
//! and the end of a timed window, grouped by role.

use std::collections::HashMap;

/// Clock ticks per second of /proc's utime/stime (`getconf CLK_TCK`).
pub fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}

/// One process at one instant.
#[derive(Clone, Debug)]
struct Proc {
    /// Start time (jiffies after boot): with the pid, identifies the process
    /// (kernel threads change their name with the work they do).
    start: u64,
    comm: String,
    cmdline: String,
    ticks: u64,
}

/// All processes and the machine's counters at one instant.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    procs: HashMap<u32, Proc>,
    /// (busy, idle, iowait) jiffies of all CPUs.
    machine: (u64, u64, u64),
}

/// Reads /proc now.
pub fn snapshot() -> Snapshot {
    let mut procs = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for ent in dir.flatten() {
            let Some(pid) = ent.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(ent.path().join("stat")) else { continue };
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
            let comm = stat[open + 1..close].to_owned();
            let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
            let ticks = rest.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
                + rest.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
            let start = rest.get(19).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
            let cmdline = std::fs::read(ent.path().join("cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            procs.insert(pid, Proc { start, comm, cmdline, ticks });
        }
    }
    let machine = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let l = s.lines().next()?.to_owned();
            let v: Vec<u64> = l.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
            // user nice system idle iowait irq softirq steal (guest fields are inside user)
            let idle = *v.get(3)?;
            let iowait = *v.get(4)?;
            let busy: u64 = v.iter().take(8).sum::<u64>() - idle - iowait;
            Some((busy, idle, iowait))
        })
        .unwrap_or_default();
    Snapshot { procs, machine }
}

/// Roles of the processes of a run.
#[derive(Clone, Debug, Default)]
pub struct Roles {
    /// `(pid, label)` of the processes this program started, and itself.
    pub pids: Vec<(u32, &'static str)>,
    /// Database of the run: postgres backends whose title names it are "ours".
    pub database: Option<String>,
}

/// CPU seconds per role over a window.
#[derive(Clone, Debug, Default)]
pub struct Breakdown {
    /// `(label, cpu seconds)`, largest first.
    pub rows: Vec<(String, f64)>,
    /// Wall-clock seconds of the window.
    pub wall: f64,
    /// CPU seconds the whole machine was busy.
    pub machine_busy: f64,
    /// CPU seconds idle.
    pub machine_idle: f64,
    /// CPU seconds waiting on I/O.
    pub machine_iowait: f64,
}

/// Label of "postgres backends of the run's database".
pub const PG_OURS: &str = "postgres: backends of the run's database";
/// Label of the other postgres processes.
pub const PG_OTHER: &str = "postgres: WAL writer, checkpointer, TimescaleDB workers, other databases";

/// Label of kernel threads (no command line): writeback, memory management, …
pub const KERNEL: &str = "kernel threads (kworker: writeback, ext4, mm)";

/// CPU used between `a` and `b`, by role.
pub fn breakdown(a: &Snapshot, b: &Snapshot, roles: &Roles, wall: f64, tck: f64) -> Breakdown {
    let mut by: HashMap<String, f64> = HashMap::new();
    for (pid, p) in &b.procs {
        let before = a.procs.get(pid).filter(|q| q.start == p.start).map_or(0, |q| q.ticks);
        let d = p.ticks.saturating_sub(before);
        if d == 0 {
            continue;
        }
        let label = if let Some((_, l)) = roles.pids.iter().find(|(q, _)| q == pid) {
            (*l).to_owned()
        } else if p.comm == "postgres" || p.cmdline.starts_with("postgres:") {
            match &roles.database {
                Some(db) if p.cmdline.contains(&format!(" {db} ")) => PG_OURS.to_owned(),
                _ => PG_OTHER.to_owned(),
            }
        } else if p.comm == "perf" {
            "perf".to_owned()
        } else if p.cmdline.is_empty() {
            KERNEL.to_owned()
        } else {
            format!("other: {}", p.comm)
        };
        *by.entry(label).or_default() += d as f64 / tck;
    }
    let mut rows: Vec<(String, f64)> = by.into_iter().collect();
    rows.sort_by(|x, y| y.1.total_cmp(&x.1));
    let j = |x: u64, y: u64| y.saturating_sub(x) as f64 / tck;
    Breakdown {
        rows,
        wall,
        machine_busy: j(a.machine.0, b.machine.0),
        machine_idle: j(a.machine.1, b.machine.1),
        machine_iowait: j(a.machine.2, b.machine.2),
    }
}
