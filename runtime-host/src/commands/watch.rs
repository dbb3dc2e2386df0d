//! Hot swap from the file system.
//!
//! [`watch_wasm_files`] (`newsfeed up`): when a component's wasm file changes,
//! that function is swapped. [`watch_sources`] (`newsfeed watch`): when a
//! function's sources change (its `build.watch` globs), only that component is
//! rebuilt and swapped. Either way the host process, its database connections
//! and the other functions are never restarted. Changes are debounced: a
//! build writes many files, and one swap should follow.
//!
//! `newsfeed watch` prints one line per rebuild saying what happened: rebuilt
//! and swapped, rebuilt and already live, or the build (or the swap) failed
//! and the old version keeps serving.

use super::build::build_component;
use crate::spin::manifest::App;
use crate::wasm::hot_swap::{duration_ms, HotSwap, SwapError};
use anyhow::{Context, Result};
use globset::{Glob, GlobSet, GlobSetBuilder};
use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache};
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// How long a burst of file events must be quiet before we act on it.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// A running watcher; dropping it stops the watching.
pub type Watcher = Debouncer<RecommendedWatcher, RecommendedCache>;

/// The paths that `events` changed. Reads are left out: our own reading of
/// a file must not look like a change to it.
fn changed_paths(events: DebounceEventResult) -> Vec<PathBuf> {
    let events: Vec<DebouncedEvent> = events.unwrap_or_else(|errors| {
        for error in errors {
            tracing::error!("watching files: {error}");
        }
        Vec::new()
    });
    events
        .into_iter()
        .filter(|event| !matches!(event.kind, EventKind::Access(_)))
        .flat_map(|event| event.event.paths)
        .collect()
}

/// Swaps a function whenever its wasm file changes.
pub fn watch_wasm_files(hot_swap: Arc<HotSwap>, executor: Handle) -> Result<Watcher> {
    let sources: Vec<(PathBuf, String)> = hot_swap.sources().into_iter().map(|(name, path)| (path, name)).collect();
    let watched = sources.clone();
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |events: DebounceEventResult| {
        let paths = changed_paths(events);
        let changed: BTreeSet<&String> = paths
            .iter()
            .filter_map(|changed| watched.iter().find(|(path, _)| path == changed))
            .map(|(_, name)| name)
            .collect();
        for name in changed {
            let hot_swap = hot_swap.clone();
            let name = name.clone();
            // The outcome is logged by the swap itself.
            executor.spawn(async move { hot_swap.swap_from_file(&name).await });
        }
    })?;
    let dirs: BTreeSet<&Path> = sources.iter().filter_map(|(path, _)| path.parent()).collect();
    for dir in dirs {
        std::fs::create_dir_all(dir)?;
        debouncer.watch(dir, RecursiveMode::NonRecursive).with_context(|| format!("watching {}", dir.display()))?;
    }
    Ok(debouncer)
}

/// One component's sources, as `build.watch` globs relative to the manifest.
struct Sources {
    name: String,
    globs: GlobSet,
}

/// Rebuilds and swaps a function whenever its sources change.
pub fn watch_sources(hot_swap: Arc<HotSwap>, app: &App, executor: Handle) -> Result<Watcher> {
    let mut watched = Vec::new();
    let mut roots = BTreeSet::new();
    for (name, spec) in &app.components {
        let Some(build) = &spec.build else { continue };
        let mut globs = GlobSetBuilder::new();
        for pattern in &build.watch {
            globs.add(Glob::new(&app.dir.join(pattern).to_string_lossy())?);
            let (root, mode) = watch_root(Path::new(pattern));
            roots.insert((app.dir.join(root), mode == RecursiveMode::Recursive));
        }
        watched.push(Sources { name: name.clone(), globs: globs.build()? });
    }
    let app = app.clone();
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |events: DebounceEventResult| {
        let paths = changed_paths(events);
        tracing::debug!(?paths, "sources changed");
        let changed: Vec<&String> = watched
            .iter()
            .filter(|sources| paths.iter().any(|path| sources.globs.is_match(path)))
            .map(|sources| &sources.name)
            .collect();
        // One at a time, in this watcher's own thread: builds share cargo's
        // lock anyway, and requests keep being served meanwhile.
        for name in changed {
            rebuild_and_swap(&hot_swap, &app, name, &executor);
        }
    })?;
    for (root, recursive) in roots {
        let mode = if recursive { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
        if root.exists() {
            debouncer.watch(&root, mode).with_context(|| format!("watching {}", root.display()))?;
        }
    }
    Ok(debouncer)
}

/// Rebuilds `name` and swaps it in, and says what happened in one line on
/// stdout: rebuilt and swapped; rebuilt and already live (the file watcher,
/// seeing the new wasm file, swapped it first, or the build made the same
/// bytes); or a failure, after which the old version keeps serving.
fn rebuild_and_swap(hot_swap: &HotSwap, app: &App, name: &str, executor: &Handle) {
    let started = Instant::now();
    if let Err(error) = build_component(app, name) {
        println!("{name}: build failed, the old version keeps serving: {}", one_line(&format!("{error:#}")));
        return;
    }
    let rebuild = started.elapsed().as_secs_f64();
    let swapped = Instant::now();
    match executor.block_on(hot_swap.swap_from_file(name)) {
        Ok(Some(report)) => println!(
            "{name}: rebuilt in {rebuild:.1} s and swapped in {:.1} ms ({} -> {}, {} code)",
            duration_ms(swapped.elapsed()),
            short(&report.old_version),
            short(&report.new_version),
            report.tier
        ),
        Ok(None) => println!(
            "{name}: rebuilt in {rebuild:.1} s and already live: the version built ({}) is the one serving (the file \
             watcher swapped it in first, or the build made the same bytes)",
            hot_swap.serving(name).as_deref().map_or("?", short)
        ),
        Err(SwapError::Refused { reason, .. }) => println!(
            "{name}: rebuilt in {rebuild:.1} s, but the swap was refused, the old version keeps serving: {}",
            one_line(&format!("{reason:#}"))
        ),
        Err(unknown @ SwapError::UnknownFunction(_)) => println!("{name}: rebuilt in {rebuild:.1} s, but {unknown}"),
    }
}

fn short(version: &str) -> &str {
    version.get(..12).unwrap_or(version)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What to watch for a glob: the folder before its first pattern
/// character, recursively; or, for a glob with none, that one file.
fn watch_root(pattern: &Path) -> (PathBuf, RecursiveMode) {
    let prefix: PathBuf = pattern
        .components()
        .take_while(|part| !matches!(part, Component::Normal(s) if s.to_string_lossy().contains(['*', '?', '[', '{'])))
        .collect();
    if prefix == pattern {
        (prefix, RecursiveMode::NonRecursive)
    } else {
        (prefix, RecursiveMode::Recursive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_the_folder_before_the_first_pattern_or_the_file() {
        let root = |glob| watch_root(Path::new(glob));
        assert_eq!(
            root("functions/search/src/**/*.rs"),
            (PathBuf::from("functions/search/src"), RecursiveMode::Recursive)
        );
        assert_eq!(root("wit/*.wit"), (PathBuf::from("wit"), RecursiveMode::Recursive));
        assert_eq!(root("Cargo.toml"), (PathBuf::from("Cargo.toml"), RecursiveMode::NonRecursive));
    }
}
