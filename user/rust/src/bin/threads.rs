//! threads: Rust's std threads on static musl, as Rust programs use them: spawn and join,
//! `thread::scope`, channels, `Arc<Mutex>` and `Condvar`, atomics, thread-locals, the allocator
//! from several threads, `Barrier`, `park`/`unpark`.
//! Prints TAP lines and `# rust-threads: P passed, F failed`.
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::Duration;

struct Tap {
    n: usize,
    failed: usize,
}

impl Tap {
    fn check(&mut self, ok: bool, what: &str) {
        self.n += 1;
        if ok {
            println!("ok {} - {what}", self.n);
        } else {
            self.failed += 1;
            println!("not ok {} - {what}", self.n);
        }
    }
}

thread_local! {
    static LOCAL: Cell<u64> = const { Cell::new(7) };
}

fn main() -> std::process::ExitCode {
    let mut t = Tap { n: 0, failed: 0 };

    let handles: Vec<_> = (0..4u64).map(|i| thread::spawn(move || i * i)).collect();
    let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    t.check(squares == [0, 1, 4, 9], "spawn and join four threads");

    let mut data = [1u64, 2, 3, 4, 5, 6, 7, 8];
    thread::scope(|s| {
        for chunk in data.chunks_mut(2) {
            s.spawn(move || chunk.iter_mut().for_each(|x| *x *= 10));
        }
    });
    t.check(data.iter().sum::<u64>() == 360, "thread::scope borrows the caller's data");

    let (tx, rx) = mpsc::channel();
    for id in 0..4u64 {
        let tx = tx.clone();
        thread::spawn(move || {
            for k in 0..250u64 {
                tx.send(id * 1000 + k).unwrap();
            }
        });
    }
    drop(tx);
    let received: Vec<u64> = rx.iter().collect();
    t.check(received.len() == 1000, "a channel carries 1000 messages from four senders");

    let counter = Arc::new(Mutex::new(0u64));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let c = Arc::clone(&counter);
            thread::spawn(move || {
                for i in 0..20_000 {
                    *c.lock().unwrap() += 1;
                    if i % 1000 == 0 {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    t.check(*counter.lock().unwrap() == 80_000, "Arc<Mutex> keeps 80000 increments exact");

    let atomic = Arc::new(AtomicUsize::new(0));
    let adders: Vec<_> = (0..4)
        .map(|_| {
            let a = Arc::clone(&atomic);
            thread::spawn(move || {
                for _ in 0..10_000 {
                    a.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    adders.into_iter().for_each(|w| w.join().unwrap());
    t.check(atomic.load(Ordering::Relaxed) == 40_000, "atomic adds from four threads");

    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p2 = Arc::clone(&pair);
    let waiter = thread::spawn(move || {
        let (m, cv) = &*p2;
        let mut ready = m.lock().unwrap();
        while !*ready {
            ready = cv.wait(ready).unwrap();
        }
        true
    });
    thread::sleep(Duration::from_millis(20));
    *pair.0.lock().unwrap() = true;
    pair.1.notify_one();
    t.check(waiter.join().unwrap(), "a Condvar wakes its waiter");

    let locals: Vec<_> = (1..=4u64)
        .map(|i| {
            thread::spawn(move || {
                let fresh = LOCAL.with(|l| l.get()) == 7;
                LOCAL.with(|l| l.set(i));
                thread::sleep(Duration::from_millis(2));
                fresh && LOCAL.with(|l| l.get()) == i
            })
        })
        .collect();
    let all = locals.into_iter().all(|h| h.join().unwrap());
    t.check(all && LOCAL.with(|l| l.get()) == 7, "thread_local! values are per thread");

    let allocs: Vec<_> = (0..4usize)
        .map(|i| {
            thread::spawn(move || {
                let mut ok = true;
                for round in 0..100usize {
                    let v: Vec<Vec<u8>> = (0..32)
                        .map(|k| vec![(i + k) as u8; 64 + (round * 131 + k * 977) % 30_000])
                        .collect();
                    ok &= v.iter().enumerate().all(|(k, b)| b.iter().all(|&x| x == (i + k) as u8));
                }
                ok
            })
        })
        .collect();
    t.check(
        allocs.into_iter().all(|h| h.join().unwrap()),
        "the allocator from four threads at once",
    );

    let barrier = Arc::new(Barrier::new(4));
    let arrived = Arc::new(AtomicUsize::new(0));
    let crossers: Vec<_> = (0..4)
        .map(|_| {
            let (b, a) = (Arc::clone(&barrier), Arc::clone(&arrived));
            thread::spawn(move || {
                a.fetch_add(1, Ordering::SeqCst);
                b.wait();
                a.load(Ordering::SeqCst)
            })
        })
        .collect();
    t.check(
        crossers.into_iter().all(|h| h.join().unwrap() == 4),
        "nobody crosses a Barrier before all four arrive",
    );

    let parked = thread::spawn(|| {
        thread::park();
        true
    });
    thread::sleep(Duration::from_millis(10));
    parked.thread().unpark();
    t.check(parked.join().unwrap(), "park and unpark");

    println!("# rust-threads: {} passed, {} failed", t.n - t.failed, t.failed);
    if t.failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
