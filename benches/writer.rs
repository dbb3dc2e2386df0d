//! The embedded backend's group-commit writer alone, with no HTTP and no wasm:
//! 32 tasks publish posts shaped like the load profile's (a subject of 5 and
//! a story of 150 words drawn from 40,000) through `Backend::publish`, each
//! waiting for its answer before the next, like the load's 32 users. Prints
//! posts per second and the writer thread's CPU per post (its
//! `/proc/self/task/TID/schedstat` run time), then the search index's
//! segments at the end.
//!
//! Compared with `benches/scripts/write-cost.sh LABEL 0 BINARY` in the same
//! sitting, it tells whether the functions or the writer bound the writes.
//!
//! `cargo bench --bench writer [-- POSTS_PER_TASK]` (1,500 by default, after a
//! warm-up of a quarter as many).

use newsfeed::backend::sqlite::{Sqlite, DEFAULT_MAX_BATCH};
use newsfeed::backend::types::{Id, Post};
use newsfeed::backend::Backend;
use newsfeed::metrics::Metrics;
use newsfeed_sql::sqlite as sql;
use std::sync::Arc;
use std::time::Instant;

#[path = "../tools/load/src/post.rs"]
mod post;

const TASKS: usize = 32;

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; the count, if given, is the number.
    let per_task = std::env::args().skip(1).find_map(|arg| arg.parse().ok()).unwrap_or(1_500);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run(per_task))
}

async fn run(per_task: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("newsfeed.db");
    let backend = Arc::new(Sqlite::open(&path, DEFAULT_MAX_BATCH, Arc::new(Metrics::default()))?);
    // Ten authors a task, each with two friends, so that every post fans out.
    let mut authors = Vec::new();
    for _ in 0..TASKS * 10 {
        authors.push(backend.create_participant("author".into()).await?.id);
    }
    for (i, &author) in authors.iter().enumerate() {
        for step in [1, 2] {
            backend.befriend(author, authors[(i + step * 37) % authors.len()]).await?;
        }
    }
    publish(&backend, &authors, per_task / 4).await?;
    let (cpu, clock) = (writer_cpu_ns()?, Instant::now());
    publish(&backend, &authors, per_task).await?;
    let (cpu, elapsed) = (writer_cpu_ns()? - cpu, clock.elapsed());
    let posts = (TASKS * per_task) as f64;
    println!(
        "{posts} posts: {:.0} posts/s, the writer {:.1} us of CPU a post ({:.2} cores)",
        posts / elapsed.as_secs_f64(),
        cpu as f64 / 1e3 / posts,
        cpu as f64 / 1e9 / elapsed.as_secs_f64()
    );
    let file = rusqlite::Connection::open(&path)?;
    let segments: i64 = file.query_row(sql::INDEX_SEGMENTS, [], |row| row.get(0))?;
    println!("search index segments at the end: {segments}");
    Ok(())
}

/// `per_task` posts from each task, all tasks at once.
async fn publish(backend: &Arc<Sqlite>, authors: &[Id], per_task: usize) -> anyhow::Result<()> {
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (backend, mine) = (backend.clone(), authors[task * 10..task * 10 + 10].to_vec());
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(task as u64);
                for i in 0..per_task {
                    let (subject, story) = post::subject_and_story(&mut rng);
                    let post = Post { author: mine[i / 10 % 10], occurred: "2026-11-27".into(), subject, story };
                    backend.publish(post).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// The CPU time the writer thread has run, from the kernel's scheduler stats.
fn writer_cpu_ns() -> anyhow::Result<u64> {
    for task in std::fs::read_dir("/proc/self/task")? {
        let task = task?.path();
        if std::fs::read_to_string(task.join("comm"))?.trim() == "sqlite-writer" {
            let stat = std::fs::read_to_string(task.join("schedstat"))?;
            return Ok(stat.split_whitespace().next().unwrap_or("0").parse()?);
        }
    }
    anyhow::bail!("no sqlite-writer thread")
}
