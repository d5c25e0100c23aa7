//! The server's (and our own) memory, file descriptors and CPU time, from /proc.

use std::time::Instant;

use anyhow::{Context, Result};

/// Resident set size in KiB (`VmRSS` of /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status (is the server running?)"))?;
    parse_vm_rss(&status).context("no VmRSS line in /proc/<pid>/status")
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Open file descriptors: the entries of /proc/<pid>/fd.
pub fn fd_count(pid: u32) -> Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))
        .with_context(|| format!("listing /proc/{pid}/fd"))?
        .count())
}

/// User + system CPU time of a process (all threads), in seconds.
pub fn cpu_seconds(pid: Option<u32>) -> Result<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = parse_cpu_ticks(&stat).with_context(|| format!("parsing {path}"))?;
    Ok(ticks as f64 / clock_ticks_per_second())
}

/// utime + stime (fields 14 and 15) of a /proc/<pid>/stat line. The command
/// name (field 2) may contain spaces and parentheses, so fields are counted
/// from the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11); // field 3 is index 0
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Busy and total clock ticks of the whole machine, all cores (the `cpu`
/// line of /proc/stat; idle and iowait count as not busy), and the number
/// of cores it counts.
fn machine_ticks() -> Result<(u64, u64, usize)> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let (busy, total) = parse_machine_ticks(&stat).context("parsing /proc/stat")?;
    let cores = stat
        .lines()
        .filter(|line| {
            line.starts_with("cpu") && line.as_bytes().get(3).is_some_and(u8::is_ascii_digit)
        })
        .count()
        .max(1);
    Ok((busy, total, cores))
}

fn parse_machine_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = ticks.iter().sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions; it returns -1 on error.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// CPU use of the server, of other named processes (`--cpu-pid`) and of
/// this process over a window of wall time.
pub struct CpuMeter {
    server_pid: u32,
    started: Instant,
    server: f64,
    own: f64,
    /// Name, pid, CPU seconds at the start.
    others: Vec<(String, u32, f64)>,
    /// The machine's busy and total ticks at the start.
    machine: (u64, u64),
}

/// CPU use over a window, in percent of one core (200 % = both cores busy).
#[derive(Debug, Clone)]
pub struct CpuUse {
    pub server_pct: f64,
    pub loadgen_pct: f64,
    pub wall_secs: f64,
    /// Each of the other processes, by name, in the order given.
    pub others_pct: Vec<(String, f64)>,
    /// The whole machine, every process (ours and anyone else's), in percent
    /// of one core.
    pub machine_pct: f64,
}

impl CpuMeter {
    pub fn start(server_pid: u32, others: &[(String, u32)]) -> Result<CpuMeter> {
        let others = others
            .iter()
            .map(|(name, pid)| Ok((name.clone(), *pid, cpu_seconds(Some(*pid))?)))
            .collect::<Result<_>>()?;
        Ok(CpuMeter {
            server_pid,
            started: Instant::now(),
            server: cpu_seconds(Some(server_pid))?,
            own: cpu_seconds(None)?,
            others,
            machine: machine_ticks().map_or((0, 0), |(busy, total, _)| (busy, total)),
        })
    }

    pub fn read(&self) -> Result<CpuUse> {
        let wall = self.started.elapsed().as_secs_f64().max(1e-6);
        let others_pct = self
            .others
            .iter()
            .map(|(name, pid, before)| {
                Ok((
                    name.clone(),
                    (cpu_seconds(Some(*pid))? - before) / wall * 100.0,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(CpuUse {
            server_pct: (cpu_seconds(Some(self.server_pid))? - self.server) / wall * 100.0,
            loadgen_pct: (cpu_seconds(None)? - self.own) / wall * 100.0,
            wall_secs: wall,
            others_pct,
            machine_pct: machine_ticks().map_or(0.0, |(busy, total, cores)| {
                let (busy0, total0) = self.machine;
                let total = total.saturating_sub(total0).max(1);
                busy.saturating_sub(busy0) as f64 / total as f64 * cores as f64 * 100.0
            }),
        })
    }
}

/// Raises this process's open-file soft limit to its hard limit; returns it.
pub fn raise_fd_limit() -> Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error()).context("getrlimit(RLIMIT_NOFILE)");
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error()).context("setrlimit(RLIMIT_NOFILE)");
            }
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every target
    Ok(limit.rlim_cur as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_kib() {
        let status = "Name:\tpulseboard\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(12345));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn cpu_ticks_survive_odd_process_names() {
        let stat = "4242 (pulse board) (x)) S 1 4242 4242 0 -1 4194560 1200 0 0 0 \
                    731 269 0 0 20 0 3 0 123456 1000000 500 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(1000));
    }

    #[test]
    fn machine_ticks_leave_out_idle_and_iowait() {
        let stat = "cpu  100 5 50 800 40 0 5 0 0 0\ncpu0 50 2 25 400 20 0 3 0 0 0\n";
        assert_eq!(parse_machine_ticks(stat), Some((160, 1000)));
        assert!(machine_ticks().unwrap().2 >= 1);
    }

    #[test]
    fn own_process_is_readable() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap() > 0);
        assert!(fd_count(pid).unwrap() >= 3);
        assert!(cpu_seconds(None).unwrap() >= 0.0);
    }
}
