//! `ping-probe PORT STOPFILE`: PING over one connection that stays open, one at a time, until
//! STOPFILE exists; then prints `count p50_ms p99_ms p999_ms max_ms`.
//!
//! The latency a client sees while the server saves: a probe that reconnects (redis-benchmark
//! runs back to back) both hides stalls that fall between runs and adds its own connection
//! set-up, so this one keeps a single connection for the whole job, as an application's
//! connection pool does.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// How often (in PINGs) the stop file is looked for.
const STOP_CHECK_EVERY: u64 = 64;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(port), Some(stop)) = (args.next(), args.next()) else {
        eprintln!("usage: ping-probe PORT STOPFILE");
        std::process::exit(2);
    };
    let mut stream = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap_or(6379)))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut samples_us: Vec<u64> = Vec::new();
    let mut reply = [0u8; 7]; // "+PONG\r\n"
    loop {
        if (samples_us.len() as u64).is_multiple_of(STOP_CHECK_EVERY) && Path::new(&stop).exists() {
            break;
        }
        let sent = Instant::now();
        stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
        stream.read_exact(&mut reply)?;
        if &reply != b"+PONG\r\n" {
            eprintln!("unexpected reply {:?}", String::from_utf8_lossy(&reply));
            std::process::exit(1);
        }
        samples_us.push(sent.elapsed().as_micros() as u64);
    }
    samples_us.sort_unstable();
    let at = |q: f64| {
        let i = ((samples_us.len() as f64 - 1.0) * q).round() as usize;
        samples_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    println!(
        "{} {:.3} {:.3} {:.3} {:.3}",
        samples_us.len(),
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0)
    );
    Ok(())
}
