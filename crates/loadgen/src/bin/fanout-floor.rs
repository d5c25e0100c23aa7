//! The floor under any SSE fan-out on this machine: the cost of the writes
//! alone. N loopback TCP connections; `--writers` threads write one 150-byte
//! message to each of them (no HTTP, no runtime, no server logic), and one
//! thread reads them with epoll. Prints how long the whole fan-out took and
//! when the reader had each message (p50/p99/max), per round.
//!
//!     fanout-floor [--connections 9000] [--writers 2] [--rounds 5]
//!
//! If this already takes ~90 ms for 9,000 connections, no server on this
//! machine delivers one event to 10,000 viewers with a p99 of 50 ms.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mio::{Events, Interest, Poll, Token};

const MESSAGE: [u8; 150] = [b'x'; 150];

fn arg(name: &str, default: usize) -> Result<usize> {
    let mut args = std::env::args().skip_while(|a| a != name);
    match args.nth(1) {
        Some(value) => value.parse().with_context(|| format!("{name} {value}")),
        None => Ok(default),
    }
}

fn main() -> Result<()> {
    let connections = arg("--connections", 9000)?;
    let writers = arg("--writers", 2)?.max(1);
    let rounds = arg("--rounds", 5)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut senders = Vec::with_capacity(connections);
    let mut receivers = Vec::with_capacity(connections);
    for i in 0..connections {
        // 1,000 per source address, like the load generator.
        let source: SocketAddr = format!("127.0.0.{}:0", 2 + i / 1000).parse()?;
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        socket.bind(&source.into())?;
        socket.connect(&addr.into())?;
        let receiver: TcpStream = socket.into();
        receiver.set_nonblocking(true)?;
        receivers.push(mio::net::TcpStream::from_std(receiver));
        senders.push(listener.accept()?.0);
    }

    let reader = std::thread::spawn(move || -> Result<Vec<Vec<Instant>>> {
        let mut poll = Poll::new()?;
        for (i, stream) in receivers.iter_mut().enumerate() {
            poll.registry()
                .register(stream, Token(i), Interest::READABLE)?;
        }
        let mut events = Events::with_capacity(1024);
        let mut buffer = [0u8; 4096];
        let mut arrivals = Vec::new();
        for _ in 0..rounds {
            let mut round = Vec::with_capacity(connections);
            while round.len() < connections {
                poll.poll(&mut events, None)?;
                for event in events.iter() {
                    loop {
                        match receivers[event.token().0].read(&mut buffer) {
                            Ok(0) => break,
                            Ok(n) => round.extend((0..n / MESSAGE.len()).map(|_| Instant::now())),
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
            }
            arrivals.push(round);
        }
        Ok(arrivals)
    });

    let mut starts = Vec::with_capacity(rounds);
    let per_writer = connections.div_ceil(writers);
    for _ in 0..rounds {
        std::thread::sleep(Duration::from_millis(300));
        starts.push(Instant::now());
        std::thread::scope(|scope| {
            for part in senders.chunks_mut(per_writer) {
                scope.spawn(move || {
                    for stream in part {
                        stream.write_all(&MESSAGE).expect("loopback write");
                    }
                });
            }
        });
    }
    let arrivals = reader.join().expect("reader thread")?;
    println!("| connections | writers | round | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    for (round, (start, arrived)) in starts.iter().zip(arrivals).enumerate() {
        let mut latencies: Vec<Duration> = arrived.iter().map(|t| *t - *start).collect();
        latencies.sort();
        let at =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        println!(
            "| {connections} | {writers} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
            round + 1,
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            at(1.0).as_secs_f64() * 1e3,
        );
    }
    Ok(())
}
