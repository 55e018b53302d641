//! `fdatasync-rate [dir] [seconds]`: how many small append+fdatasync pairs per second the disk
//! under `dir` completes, one after another. Under `appendfsync always` a single client can
//! never be acknowledged faster than this, so benchmarks print it beside `-c 1` results.

use std::fs::OpenOptions;
use std::io::Write;
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| ".".to_string());
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let path =
        std::path::Path::new(&dir).join(format!("fdatasync-probe-{}.tmp", std::process::id()));
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    // A record of a typical SET's size.
    let record = [b'x'; 64];
    let (started, limit) = (Instant::now(), Duration::from_secs_f64(seconds));
    let mut count = 0u64;
    while started.elapsed() < limit {
        file.write_all(&record)?;
        file.sync_data()?;
        count += 1;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    std::fs::remove_file(&path)?;
    println!("{rate:.0}");
    Ok(())
}
