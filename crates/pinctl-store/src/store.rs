//! The state folder on disk: finding and loading sites (with their
//! archives, CSRs and neighbouring sites checked), the lock every mutating
//! command holds, and writing sites and their files. The schema is
//! `state`'s; how bytes reach the disk is `fsutil`'s.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::fsutil::{create_private_dir, set_mode, sync_dir, write_atomic};
use pinctl_core::error::{Error, Result};
use pinctl_core::state::{
    parse_site, sha256_hex, to_yaml, ParseError, Role, Site, MAX_SITE_FILE, SITE_FILE, VERSION,
};

/// `f(index, item)` of each of `items`, on every core, in order; the
/// first error in that order wins. The cores take runs of items in turn
/// as they finish the last, rather than a fixed half each: one core may
/// be slowed by other work, and the sites are not all alike.
fn on_every_core<T: Sync, U: Send>(
    items: &[T],
    f: impl Fn(usize, &T) -> Result<U> + Sync,
) -> Result<Vec<U>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const RUN: usize = 32;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 || items.len() <= RUN {
        return items.iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    let next = AtomicUsize::new(0);
    let (f, next) = (&f, &next);
    let work = move || {
        let mut done: Vec<(usize, Result<Vec<U>>)> = Vec::new();
        loop {
            let start = next.fetch_add(RUN, Ordering::Relaxed);
            if start >= items.len() {
                return done;
            }
            let run = &items[start..items.len().min(start + RUN)];
            let part = run
                .iter()
                .enumerate()
                .map(|(k, t)| f(start + k, t))
                .collect();
            done.push((start, part));
        }
    };
    let mut runs: Vec<(usize, Result<Vec<U>>)> = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..cores).map(|_| s.spawn(work)).collect();
        let mut runs = work();
        for h in helpers {
            match h.join() {
                Ok(r) => runs.extend(r),
                Err(_) => runs.push((0, Err(Error::Internal("a loader thread failed".into())))),
            }
        }
        runs
    });
    runs.sort_by_key(|(start, _)| *start);
    let mut out = Vec::with_capacity(items.len());
    for (_, part) in runs {
        out.extend(part?);
    }
    Ok(out)
}

/// Set once this process has written a site file (for the warning about
/// a `PINCTL_NOW` ahead of the real clock).
static WROTE_A_SITE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process has written a site file.
pub fn wrote_a_site() -> bool {
    WROTE_A_SITE.load(std::sync::atomic::Ordering::Relaxed)
}

/// The state folder.
pub struct Store {
    pub root: PathBuf,
}

/// The sites a report covers, and every site of the folder
/// ([`Store::listing`]).
pub struct Listing {
    pub chosen: Vec<String>,
    /// None for `--site`: the folder is listed after the chosen site is
    /// read, so that its own error comes first (as it always did).
    every: Option<Vec<String>>,
}

/// Held while a mutating command runs; released when dropped.
pub struct Lock {
    file: fs::File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // The pid is only for the message of a waiting pinctl; emptying the
        // file leaves the folder as it was before the command.
        let _ = self.file.set_len(0);
    }
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    pub fn site_dir(&self, domain: &str) -> PathBuf {
        self.root.join(domain)
    }

    pub fn site_file(&self, domain: &str) -> PathBuf {
        self.site_dir(domain).join(SITE_FILE)
    }

    /// Domains of the sites in the folder, sorted. A folder that holds a
    /// `site.yaml` pinctl cannot read is an error, not left out: a check
    /// that skipped it would say OK about a site it never saw.
    pub fn sites(&self) -> Result<Vec<String>> {
        let read = |path: &Path, e| Error::Read {
            path: path.to_path_buf(),
            source: e,
        };
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(read(&self.root, e)),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| read(&self.root, e))?;
            let name = entry.file_name();
            if name.as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let dir = entry.path();
            // Folders (or links to folders) only: the report store and
            // other files live beside the sites. The listing tells a real
            // folder without a further look (a fleet has thousands).
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                match fs::metadata(&dir) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(read(&dir, e)),
                }
            }
            let file = dir.join(SITE_FILE);
            let unreadable = |why: String| {
                Error::state(
                    &dir,
                    format!(
                        "a site folder pinctl cannot read ({why}); no site in it was looked at"
                    ),
                )
            };
            match fs::metadata(&file) {
                Ok(m) if m.is_file() => {}
                Ok(_) => return Err(unreadable(format!("{SITE_FILE} is not a file"))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if file.symlink_metadata().is_ok() {
                        return Err(unreadable(format!("{SITE_FILE} is a link to nothing")));
                    }
                    continue;
                }
                Err(e) => return Err(unreadable(format!("{SITE_FILE}: {e}"))),
            }
            match name.to_str() {
                Some(n) => out.push(n.to_string()),
                None => return Err(unreadable("its name is not UTF-8".into())),
            }
        }
        out.sort();
        Ok(out)
    }

    /// The sites a report covers: `want`, or every site (an error when the
    /// folder holds none).
    pub fn chosen(&self, want: Option<&str>) -> Result<Vec<String>> {
        if want.is_some() {
            return Ok(vec![self.pick(want)?]);
        }
        Ok(self.listing(None)?.chosen)
    }

    /// The site to work on: `want`, or the only one.
    pub fn pick(&self, want: Option<&str>) -> Result<String> {
        if let Some(d) = want {
            // Host names are case-insensitive; the state keeps lower case
            // and no trailing dot, by the rule `init` applies.
            let d = pinctl_core::state::normalize_domain(d).map_err(Error::Usage)?;
            let d = d.as_str();
            if !self.site_file(d).is_file() {
                return Err(Error::state(
                    self.root.clone(),
                    format!("no site {d} in this state folder"),
                ));
            }
            return Ok(d.to_string());
        }
        let sites = self.sites()?;
        match sites.len() {
            0 => Err(Error::state(
                self.root.clone(),
                "no site in this state folder; run `pinctl init DOMAIN` first (or pass --state DIR)",
            )),
            1 => Ok(sites[0].clone()),
            _ => Err(Error::state(
                self.root.clone(),
                format!("the state holds several sites ({}); choose one with --site", sites.join(", ")),
            )),
        }
    }

    /// Reads and checks one site file, without its neighbours or files.
    /// Every site as its `site.yaml` says, and nothing else read: no
    /// archive, CSR or certificate file. What the report collector needs
    /// to compare pins, so that an unprivileged user that can list the
    /// state and read `site.yaml` runs it (docs/design.md#limits).
    pub fn site_files_only(&self) -> Result<Vec<Site>> {
        self.sites()?
            .iter()
            .map(|d| self.read_site_file(d))
            .collect()
    }

    /// One `site.yaml`, parsed and checked to be the folder's.
    fn read_site_file(&self, domain: &str) -> Result<Site> {
        self.read_site_file_in(domain).map(|(site, _)| site)
    }

    /// [`Store::read_site_file`], with the site's folder held open when it
    /// could be (a real folder), for reading its other files.
    fn read_site_file_in(&self, domain: &str) -> Result<(Site, Option<SiteDir>)> {
        let path = self.site_file(domain);
        let dir = self.site_dir(domain);
        let held = SiteDir::hold(&dir);
        if held.is_none() && dir.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
            return Err(Error::state(
                &dir,
                "is not a folder (a symbolic link?); pinctl writes only into real folders of the state",
            ));
        }
        let text = match &held {
            Some(h) => read_capped_from(&path, h.open(SITE_FILE)),
            None => read_capped(&path),
        }?;
        let site = parse_site(&text).map_err(|e| match e {
            ParseError::Newer(found) => Error::NewerState {
                path: path.clone(),
                found,
                known: VERSION,
            },
            ParseError::Invalid(m) => Error::state(&path, m),
        })?;
        if site.domain != domain {
            return Err(Error::state(
                &path,
                format!(
                    "the file is for {}, but lies in the folder of {domain}",
                    site.domain
                ),
            ));
        }
        Ok((site, held))
    }

    fn read_site(&self, domain: &str) -> Result<Site> {
        self.read_site_in(domain).map(|(site, _)| site)
    }

    /// [`Store::read_site`], with the folder held open as
    /// [`Store::read_site_file_in`] holds it.
    fn read_site_in(&self, domain: &str) -> Result<(Site, Option<SiteDir>)> {
        let (mut site, held) = self.read_site_file_in(domain)?;
        let dir = self.site_dir(domain);
        if site.version < 4 {
            // Before version 4 a certificate's names were not recorded: read
            // them from the stored files, since a header is served on each
            // (docs/design.md#where-a-header-is-served). A file that cannot
            // be read gives none; its key's CSR names are the site's SANs.
            for c in &mut site.certificates {
                c.names = stored_links(&dir, c)
                    .and_then(|l| l.into_iter().next())
                    .map(|l| l.names)
                    .unwrap_or_default();
            }
        }
        Ok((site, held))
    }

    /// The site of the folder, other than `except`, whose header is served
    /// on `name` (its domain, a `--san` or a certificate's name), if any.
    pub fn site_serving(&self, name: &str, except: &str) -> Result<Option<String>> {
        for d in self.sites()? {
            if d != except && pinctl_core::lifecycle::names(&self.read_site(&d)?).contains(&name) {
                return Ok(Some(d));
            }
        }
        Ok(None)
    }

    /// What the other sites of the folder mean for `site`: the ancestors
    /// and descendants it shares clients with (includeSubDomains).
    pub fn related(&self, site: &Site) -> Result<pinctl_core::state::Related> {
        // Any site may be related by a SAN, so every site file is read.
        let mut others = Vec::new();
        for d in self.sites()? {
            if d != site.domain {
                let o = self.read_site(&d)?;
                if pinctl_core::lifecycle::near(site, &o) {
                    others.push(o);
                }
            }
        }
        Ok(pinctl_core::lifecycle::relate(site, &others))
    }

    /// Loads a site, checks its invariants and files, and relates it to
    /// the other sites of the folder.
    pub fn load(&self, domain: &str) -> Result<Site> {
        let mut site = self.load_checked(domain)?;
        site.related = self.related(&site)?;
        Ok(site)
    }

    /// Loads several sites (a fleet): each file is read once, and the
    /// sites are related to one another in memory.
    pub fn load_many(&self, domains: &[String]) -> Result<Vec<Site>> {
        self.map_listed(domains, self.every_after(domains)?, Site::clone)
    }

    /// Every site of the folder, as if listed after `chosen` were loaded
    /// (as they were before the sites were loaded in one pass): when the
    /// folder cannot be listed, a chosen site's own error comes first.
    fn every_after(&self, chosen: &[String]) -> Result<Vec<String>> {
        self.sites().or_else(|e| {
            for d in chosen {
                self.load_checked(d)?;
            }
            Err(e)
        })
    }

    /// The sites a report covers (`want`, or every site, as
    /// [`Store::chosen`] says), with every site of the folder: a fleet's
    /// folder is listed once.
    pub fn listing(&self, want: Option<&str>) -> Result<Listing> {
        Ok(match want {
            Some(_) => Listing {
                chosen: vec![self.pick(want)?],
                every: None,
            },
            None => {
                let every = self.sites()?;
                if every.is_empty() {
                    self.pick(None)?;
                }
                Listing {
                    chosen: every.clone(),
                    every: Some(every),
                }
            }
        })
    }

    /// `f` of each chosen site of `listing`, loaded as [`Store::load`]
    /// does, in order; for a fleet's `status` and `check`.
    ///
    /// Only `f`'s results stay in memory, not the sites: each site is
    /// loaded on one of the cores, handed to `f` and dropped. Whether
    /// another site is near it is known only once every site's names
    /// are read, so `f` first sees each site unrelated; the sites that
    /// do have neighbours are loaded again, with them, and `f`'s result
    /// for them replaced.
    pub fn map_sites<U: Send>(
        &self,
        listing: Listing,
        f: impl Fn(&Site) -> U + Sync,
    ) -> Result<Vec<U>> {
        let every = match listing.every {
            Some(every) => every,
            None => self.every_after(&listing.chosen)?,
        };
        self.map_listed(&listing.chosen, every, f)
    }

    /// [`Store::map_sites`] of `domains`, with `every` site of the folder.
    fn map_listed<U: Send>(
        &self,
        domains: &[String],
        every: Vec<String>,
        f: impl Fn(&Site) -> U + Sync,
    ) -> Result<Vec<U>> {
        // Neighbours outside the list are read too (without their files):
        // any site may be near one of the list through a SAN.
        let listed: std::collections::HashSet<&String> = domains.iter().collect();
        let others: Vec<String> = every.into_iter().filter(|d| !listed.contains(d)).collect();
        let all: Vec<&String> = domains.iter().chain(&others).collect();
        let n = domains.len();
        let first: Vec<(Vec<String>, Option<U>)> = on_every_core(&all, |i, d| {
            let site = if i < n {
                self.load_checked(d)?
            } else {
                self.read_site(d)?
            };
            let names = pinctl_core::lifecycle::names(&site)
                .into_iter()
                .map(str::to_string)
                .collect();
            Ok((names, (i < n).then(|| f(&site))))
        })?;
        let (names, mut results): (Vec<Vec<String>>, Vec<Option<U>>) = first.into_iter().unzip();
        let near = pinctl_core::lifecycle::neighbours(&names, n);
        let again: Vec<usize> = (0..n).filter(|i| !near[*i].is_empty()).collect();
        // Each site to relate and each of its neighbours is read once,
        // however many sites it is near, and all are related on every core.
        let needed: Vec<usize> = again
            .iter()
            .flat_map(|i| near[*i].iter().chain([i]))
            .copied()
            .collect::<std::collections::BTreeSet<usize>>()
            .into_iter()
            .collect();
        let loaded = on_every_core(&needed, |_, j| {
            if *j < n {
                self.load_checked(all[*j])
            } else {
                self.read_site(all[*j])
            }
        })?;
        let site_at = |j: usize| needed.binary_search(&j).ok().map(|k| &loaded[k]);
        let redone = on_every_core(&again, |_, i| {
            let mut site = site_at(*i)
                .ok_or_else(|| Error::Internal("a related site was not loaded".into()))?
                .clone();
            let others: Vec<&Site> = near[*i].iter().filter_map(|j| site_at(*j)).collect();
            site.related = pinctl_core::lifecycle::relate(&site, &others);
            Ok(f(&site))
        })?;
        for (i, u) in again.into_iter().zip(redone) {
            results[i] = Some(u);
        }
        // Every listed site got a result in the first pass.
        Ok(results.into_iter().flatten().collect())
    }

    /// Loads one site with its invariants and files checked, not yet
    /// related to the others.
    fn load_checked(&self, domain: &str) -> Result<Site> {
        let (mut site, held) = self.read_site_in(domain)?;
        let path = self.site_file(domain);
        let dir = self.site_dir(domain);
        // Opened in the folder held open (one name to look up, not the
        // whole path), else by path.
        let open = |name: &str| match &held {
            Some(h) => h.open(name),
            None => fs::File::open(dir.join(name)),
        };
        // One buffer for every archive and CSR of the site, larger than
        // any of them is as pinctl writes them (read in one go).
        let mut data = Vec::with_capacity(16 << 10);
        for k in &site.keys {
            if k.destroyed.is_some() {
                continue;
            }
            let ap = || dir.join(&k.archive);
            read_into(open(&k.archive), &mut data).map_err(|e| {
                let hint = if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "; restore it from an offline copy (pinctl archive verify {} --from DIR shows which copy is good){}",
                        k.name,
                        if matches!(k.role, Role::Retired | Role::Compromised) {
                            format!(", or record its end with pinctl key destroy {} --force", k.name)
                        } else {
                            String::new()
                        }
                    )
                } else {
                    String::new()
                };
                Error::state(
                    ap(),
                    format!("archive of key {} cannot be read: {e}{hint}", k.name),
                )
            })?;
            if sha256_hex(&data) != k.archive_sha256 {
                return Err(Error::state(
                    ap(),
                    format!("archive of key {} does not match its recorded checksum (damaged or tampered)", k.name),
                ));
            }
            let cp = || dir.join(&k.csr);
            read_into(open(&k.csr), &mut data).map_err(|e| {
                Error::state(cp(), format!("CSR of key {} cannot be read: {e}", k.name))
            })?;
            // Parsed in full, as `pin` reads it: a damaged or tampered CSR
            // must be refused, not only its public key found.
            let pins = pinctl_core::pin::read_pins_with(
                &cp().display().to_string(),
                &data,
                pinctl_core::pin::Detail::Checked,
            )?;
            if pins.first().map(|p| p.pin.as_str()) != Some(k.pin.as_str()) {
                return Err(Error::state(
                    &path,
                    format!(
                        "the pin recorded for key {} does not match its CSR and archive",
                        k.name
                    ),
                ));
            }
        }
        if site.version < 2 {
            // Version 1 recorded every CA pin of a file as credit; judge
            // the stored files again so that only a verified direct issuer
            // counts (a file that cannot be read earns none).
            for c in &mut site.certificates {
                c.issuer_pin =
                    stored_links(&dir, c).and_then(|l| pinctl_core::chain::credit(&l).issuer);
            }
        }
        Ok(site)
    }

    /// Takes the folder's lock, waiting a bounded time for another pinctl.
    pub fn lock(&self) -> Result<Lock> {
        create_private_dir(&self.root)?;
        let path = self.root.join(".lock");
        // The folder may come from a shared repository: a link planted as
        // `.lock` must not make pinctl write through it.
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt as _;
            fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .mode(0o600)
                .open(&path)
        }
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                Error::state(
                    &path,
                    "is a symbolic link; pinctl refuses to write through it (remove it)",
                )
            } else {
                Error::Write {
                    path: path.clone(),
                    source: e,
                }
            }
        })?;
        let meta = file.metadata().map_err(|e| Error::Read {
            path: path.clone(),
            source: e,
        })?;
        {
            use std::os::unix::fs::MetadataExt as _;
            if !meta.is_file() || meta.nlink() > 1 {
                return Err(Error::state(
                    &path,
                    "is not pinctl's own lock file (not a regular file, or linked elsewhere); remove it",
                ));
            }
        }
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < lock_wait() => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let pid = fs::read_to_string(&path).unwrap_or_default();
                    return Err(Error::Locked {
                        path: self.root.clone(),
                        pid: pid.trim().to_string(),
                    });
                }
                Err(fs::TryLockError::Error(e)) => return Err(Error::Write { path, source: e }),
            }
        }
        file.set_len(0).ok();
        let _ = write!(file, "{}", std::process::id());
        let lock = Lock { file };
        self.sweep();
        crate::failpoint::hold_lock();
        Ok(lock)
    }

    /// Removes what an interrupted pinctl left: staging folders of a site
    /// that was never created and temporary files that were never renamed.
    /// Only called with the lock held, so no other pinctl is writing them.
    fn sweep(&self) {
        let Ok(rd) = fs::read_dir(&self.root) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if name.starts_with(".staging-") && path.is_dir() {
                let _ = fs::remove_dir_all(&path);
            } else if name.starts_with(".tmp-") {
                let _ = fs::remove_file(&path);
            } else if path.join(SITE_FILE).is_file() {
                if let Ok(inner) = fs::read_dir(&path) {
                    for f in inner.flatten() {
                        if f.file_name().to_string_lossy().starts_with(".tmp-") {
                            let _ = fs::remove_file(f.path());
                        }
                    }
                }
            }
        }
    }

    /// Locks the folder and loads a site for a change at `now`; refuses a
    /// clock that runs behind the site's history (publications would
    /// overlap).
    pub fn load_for_update(&self, domain: &str, now: DateTime<Utc>) -> Result<(Lock, Site)> {
        // A state that would be refused is refused before the lock file is
        // touched, so that a failing command leaves the folder as it was.
        self.check_clock(domain, &self.load(domain)?, now)?;
        let lock = self.lock()?;
        let site = self.load(domain)?;
        self.check_clock(domain, &site, now)?;
        Ok((lock, site))
    }

    fn check_clock(&self, domain: &str, site: &Site, now: DateTime<Utc>) -> Result<()> {
        // A step reads the history of every site whose pinsets reach this
        // one or that it reaches (docs/design.md#time): two operators with
        // skewed clocks must not date a step before what it judged.
        let own = site
            .events
            .iter()
            .map(|e| e.at)
            .max()
            .map(|t| (t, domain.to_string()));
        let newest = match (own, site.related.newest.clone()) {
            (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        if let Some((last, whose)) = newest {
            if now < last {
                let of = if whose == domain {
                    String::new()
                } else {
                    format!(" of {whose}, whose pinsets this step depends on")
                };
                return Err(Error::state(
                    self.site_file(domain),
                    format!(
                        "\"now\" ({}) is before the last recorded event{of} ({}); check the clock or PINCTL_NOW",
                        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        last.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Replaces the site's YAML atomically; refuses a site that fails its
    /// invariants, so that an invalid state is never written.
    pub fn save(&self, _lock: &Lock, site: &Site) -> Result<()> {
        site.check().map_err(|m| {
            Error::Internal(format!(
                "refusing to write {}: the state would break its invariants: {m}",
                self.site_file(&site.domain).display()
            ))
        })?;
        let mut current = site.clone();
        current.version = VERSION;
        let text = to_yaml(&current)?;
        write_atomic(&self.site_file(&site.domain), text.as_bytes(), false)?;
        WROTE_A_SITE.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Writes a new file into a site's folder atomically; never replaces an
    /// existing file.
    pub fn add_file(
        &self,
        _lock: &Lock,
        domain: &str,
        name: &str,
        data: &[u8],
        secret: bool,
    ) -> Result<()> {
        let path = self.site_dir(domain).join(name);
        // Created new in one step (a link that fails if anything, even a
        // dangling symbolic link, holds the name): an `exists()` check
        // before a plain write missed dangling links and raced.
        crate::fsutil::write_new_atomic(&path, data, secret).map_err(|e| match e {
            Error::Write { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => {
                Error::state(&path, "already exists; refusing to overwrite")
            }
            e => e,
        })
    }

    /// Creates a whole new site in one step: every file is written into a
    /// hidden staging folder that is then renamed into place, so a failure
    /// at any point leaves no trace of the site.
    pub fn create_site(
        &self,
        _lock: &Lock,
        site: &Site,
        files: &[(String, Vec<u8>, bool)],
    ) -> Result<()> {
        let dir = self.site_dir(&site.domain);
        if dir.exists() {
            return Err(Error::state(
                &dir,
                format!("site {} already exists", site.domain),
            ));
        }
        let staging = tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(&self.root)
            .map_err(|e| Error::Write {
                path: self.root.clone(),
                source: e,
            })?;
        set_mode(staging.path(), 0o700)?;
        for (name, data, secret) in files {
            write_atomic(&staging.path().join(name), data, *secret)?;
        }
        write_atomic(
            &staging.path().join(SITE_FILE),
            to_yaml(site)?.as_bytes(),
            false,
        )?;
        let staged = staging.keep();
        fs::rename(&staged, &dir).map_err(|e| {
            let _ = fs::remove_dir_all(&staged);
            Error::Write {
                path: dir.clone(),
                source: e,
            }
        })?;
        WROTE_A_SITE.store(true, std::sync::atomic::Ordering::Relaxed);
        sync_dir(&self.root)
    }
}

/// The chain of a recorded certificate's stored file, for judging an
/// older state again; None when the file cannot be read.
fn stored_links(dir: &Path, c: &pinctl_core::state::Cert) -> Option<Vec<pinctl_core::chain::Link>> {
    let p = dir.join(&c.file);
    let data = fs::read(&p).ok()?;
    pinctl_core::chain::links(&p.display().to_string(), &data).ok()
}

/// The whole of a file into `buf` (emptied first): as `fs::read`, without
/// asking the file's size first (a fleet's `check` reads ten files a
/// site, and the buffer is already large enough).
fn read_into(file: std::io::Result<fs::File>, buf: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Read as _;
    buf.clear();
    // Through `Take`: `File`'s own `read_to_end` asks for the size.
    file?.take(u64::MAX).read_to_end(buf)?;
    Ok(())
}

/// A site's folder held open, its files opened relative to it: a fleet
/// opens ten files a site, and each open by whole path looks up every
/// folder of the path again.
struct SiteDir(std::os::fd::OwnedFd);

impl SiteDir {
    /// The folder, when it is one (not a link to one) and can be held;
    /// None otherwise, and the caller goes by path, as before, for the
    /// same answers and errors.
    fn hold(dir: &Path) -> Option<SiteDir> {
        use rustix::fs::{Mode, OFlags};
        // O_PATH: only a handle to look names up in, which needs no read
        // permission on the folder itself. Where there is none, a folder
        // that cannot be read is not held, and is read by path.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let how = OFlags::PATH;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let how = OFlags::RDONLY;
        let flags = how | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        rustix::fs::open(dir, flags, Mode::empty())
            .ok()
            .map(SiteDir)
    }

    /// The file `name` of the folder, for reading.
    fn open(&self, name: &str) -> std::io::Result<fs::File> {
        use rustix::fs::{Mode, OFlags};
        rustix::fs::openat(
            &self.0,
            name,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map(fs::File::from)
        .map_err(std::io::Error::from)
    }
}

/// Reads a state file, refusing one larger than [`MAX_SITE_FILE`], as
/// `fsutil::read_capped` does (the same errors).
fn read_capped(path: &Path) -> Result<Vec<u8>> {
    read_capped_from(path, fs::File::open(path))
}

/// [`read_capped`] of `path` opened as `file`, sized from the open file
/// rather than by a second look up of its path: a fleet's `status` reads
/// thousands. Site files hold no secret, so no wiping buffer.
fn read_capped_from(path: &Path, file: std::io::Result<fs::File>) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let read = |e| Error::Read {
        path: path.to_path_buf(),
        source: e,
    };
    let file = file.map_err(read)?;
    let meta = file.metadata().map_err(read)?;
    if meta.is_dir() {
        return Err(Error::input(path.display().to_string(), "is a directory"));
    }
    // One more byte than the file: the read that finds its end needs no
    // larger buffer.
    let mut buf = Vec::with_capacity(meta.len().min(MAX_SITE_FILE) as usize + 1);
    file.take(MAX_SITE_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(read)?;
    if buf.len() as u64 > MAX_SITE_FILE {
        return Err(Error::input(
            path.display().to_string(),
            format!(
                "is larger than {} MiB; pinctl reads no more",
                MAX_SITE_FILE >> 20
            ),
        ));
    }
    Ok(buf)
}

fn lock_wait() -> Duration {
    let ms = std::env::var("PINCTL_LOCK_WAIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    Duration::from_millis(ms)
}
