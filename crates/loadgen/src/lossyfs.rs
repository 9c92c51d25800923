//! Mode P's power-loss layer: a FUSE file system with its own page cache that forgets every
//! write not fsynced, on command, in the manner of LazyFS (`shared/docs/reliability.md` §4).
//!
//! The mount serves the files of a backing directory. Every file is held in memory twice: what
//! readers see (`current`), and what would survive a power cut (`durable`, which is also what the
//! backing file holds). A write changes `current` and marks its 4 KiB pages dirty; `fsync` and
//! `fdatasync` write the dirty pages and the length to the backing file, fsync it for real, and
//! copy them into `durable`. [`Lossy::power_loss`] unmounts (so the kernel's own cache goes too,
//! and any dirty mmap pages, such as SQLite's `-shm`, reach this layer first), resets every file
//! to `durable`, and mounts again.
//!
//! Simplifications, stated: names (create, unlink, rename, mkdir) are durable at once, as on a
//! journaling file system that orders metadata before the next fsync; no torn writes within a
//! page (a dropped page is dropped whole); locks are the kernel's local ones (one server process).

use fuser::{
    BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    ffi::{OsStr, OsString},
    os::unix::fs::{FileExt, MetadataExt},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime},
};

const PAGE: u64 = 4096;
const TTL: Duration = Duration::from_secs(1);
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;

#[derive(Debug, Default)]
struct Data {
    current: Vec<u8>,
    durable: Vec<u8>,
    /// Pages of `current` written since the last fsync.
    dirty: BTreeSet<u64>,
}

#[derive(Debug)]
enum Body {
    Dir(BTreeMap<OsString, u64>),
    File(Data),
}

#[derive(Debug)]
struct Node {
    parent: u64,
    name: OsString,
    perm: u16,
    mtime: SystemTime,
    body: Body,
}

/// What the layer did, for the report.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct LossyStats {
    pub writes: u64,
    pub fsyncs: u64,
    pub power_losses: u64,
    /// Dirty pages forgotten at power losses.
    pub dropped_pages: u64,
    /// Files whose length went back at a power loss.
    pub dropped_lengths: u64,
}

#[derive(Debug)]
struct State {
    backing: PathBuf,
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    uid: u32,
    gid: u32,
    stats: LossyStats,
}

fn root_ino() -> u64 {
    INodeNo::ROOT.0
}

impl State {
    fn load(backing: &Path) -> std::io::Result<State> {
        let meta = std::fs::metadata(backing)?;
        let mut state = State {
            backing: backing.to_path_buf(),
            nodes: HashMap::new(),
            next_ino: root_ino() + 1,
            uid: meta.uid(),
            gid: meta.gid(),
            stats: LossyStats::default(),
        };
        state.nodes.insert(
            root_ino(),
            Node {
                parent: root_ino(),
                name: OsString::new(),
                perm: 0o755,
                mtime: SystemTime::now(),
                body: Body::Dir(BTreeMap::new()),
            },
        );
        state.load_dir(root_ino(), backing)?;
        Ok(state)
    }

    fn load_dir(&mut self, ino: u64, dir: &Path) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            let child = if meta.is_dir() {
                let child = self.add(ino, entry.file_name(), (meta.mode() & 0o7777) as u16, Body::Dir(BTreeMap::new()));
                self.load_dir(child, &entry.path())?;
                child
            } else if meta.is_file() {
                let bytes = std::fs::read(entry.path())?;
                let data = Data { current: bytes.clone(), durable: bytes, dirty: BTreeSet::new() };
                self.add(ino, entry.file_name(), (meta.mode() & 0o7777) as u16, Body::File(data))
            } else {
                continue;
            };
            let _ = child;
        }
        Ok(())
    }

    fn add(&mut self, parent: u64, name: OsString, perm: u16, body: Body) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        if let Some(Node { body: Body::Dir(children), .. }) = self.nodes.get_mut(&parent) {
            children.insert(name.clone(), ino);
        }
        self.nodes.insert(ino, Node { parent, name, perm, mtime: SystemTime::now(), body });
        ino
    }

    fn path(&self, ino: u64) -> PathBuf {
        let mut parts = Vec::new();
        let mut at = ino;
        while at != root_ino() {
            let Some(node) = self.nodes.get(&at) else { break };
            parts.push(node.name.clone());
            at = node.parent;
        }
        let mut path = self.backing.clone();
        for part in parts.iter().rev() {
            path.push(part);
        }
        path
    }

    fn child(&self, parent: u64, name: &OsStr) -> Option<u64> {
        match &self.nodes.get(&parent)?.body {
            Body::Dir(children) => children.get(name).copied(),
            Body::File(_) => None,
        }
    }

    fn attr(&self, ino: u64) -> Option<FileAttr> {
        let node = self.nodes.get(&ino)?;
        let (kind, size, nlink) = match &node.body {
            Body::Dir(_) => (FileType::Directory, 0, 2),
            Body::File(data) => (FileType::RegularFile, data.current.len() as u64, 1),
        };
        Some(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: node.mtime,
            mtime: node.mtime,
            ctime: node.mtime,
            crtime: node.mtime,
            kind,
            perm: node.perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: PAGE as u32,
            flags: 0,
        })
    }

    fn data(&mut self, ino: u64) -> Result<&mut Data, Errno> {
        match self.nodes.get_mut(&ino) {
            Some(Node { body: Body::File(data), mtime, .. }) => {
                *mtime = SystemTime::now();
                Ok(data)
            }
            Some(_) => Err(Errno::EISDIR),
            None => Err(Errno::ENOENT),
        }
    }

    /// Writes the dirty pages and the length to the backing file and fsyncs it.
    fn sync(&mut self, ino: u64) -> std::io::Result<()> {
        let path = self.path(ino);
        let Ok(data) = self.data(ino) else { return Ok(()) };
        if data.dirty.is_empty() && data.durable.len() == data.current.len() {
            return Ok(());
        }
        let file = std::fs::OpenOptions::new().write(true).open(&path)?;
        let len = data.current.len() as u64;
        data.durable.resize(data.current.len(), 0);
        for page in std::mem::take(&mut data.dirty) {
            let start = page * PAGE;
            if start >= len {
                continue;
            }
            let end = (start + PAGE).min(len);
            let (s, e) = (start as usize, end as usize);
            file.write_all_at(&data.current[s..e], start)?;
            data.durable[s..e].copy_from_slice(&data.current[s..e]);
        }
        file.set_len(len)?;
        file.sync_data()?;
        self.stats.fsyncs += 1;
        Ok(())
    }

    /// Forgets everything not fsynced.
    fn power_loss(&mut self) {
        self.stats.power_losses += 1;
        for node in self.nodes.values_mut() {
            if let Body::File(data) = &mut node.body {
                self.stats.dropped_pages += data.dirty.len() as u64;
                if data.current.len() != data.durable.len() {
                    self.stats.dropped_lengths += 1;
                }
                data.current.clone_from(&data.durable);
                data.dirty.clear();
            }
        }
    }
}

struct LossyFs {
    state: Arc<Mutex<State>>,
}

impl LossyFs {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn new_node(&self, parent: INodeNo, name: &OsStr, perm: u16, dir: bool) -> Result<FileAttr, Errno> {
        let mut state = self.lock();
        if state.child(parent.0, name).is_some() {
            return Err(Errno::EEXIST);
        }
        if !matches!(state.nodes.get(&parent.0), Some(Node { body: Body::Dir(_), .. })) {
            return Err(Errno::ENOTDIR);
        }
        let path = state.path(parent.0).join(name);
        let body = if dir {
            std::fs::create_dir(&path).map_err(Errno::from)?;
            Body::Dir(BTreeMap::new())
        } else {
            std::fs::File::create(&path).map_err(Errno::from)?;
            Body::File(Data::default())
        };
        let ino = state.add(parent.0, name.to_os_string(), perm, body);
        state.attr(ino).ok_or(Errno::EIO)
    }
}

impl Filesystem for LossyFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let state = self.lock();
        match state.child(parent.0, name).and_then(|ino| state.attr(ino)) {
            Some(attr) => reply.entry(&TTL, &attr, Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.lock().attr(ino.0) {
            Some(attr) => reply.attr(&TTL, &attr),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut state = self.lock();
        if let Some(mode) = mode
            && let Some(node) = state.nodes.get_mut(&ino.0)
        {
            node.perm = (mode & 0o7777) as u16;
        }
        if let Some(size) = size {
            match state.data(ino.0) {
                Ok(data) => {
                    let old = data.current.len() as u64;
                    data.current.resize(size as usize, 0);
                    // Grown: the new zero pages are unsynced. Shrunk: the length is (sync compares).
                    if size > old {
                        data.dirty.extend(old / PAGE..=size.saturating_sub(1) / PAGE);
                    }
                }
                Err(e) => return reply.error(e),
            }
        }
        match state.attr(ino.0) {
            Some(attr) => reply.attr(&TTL, &attr),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & S_IFMT != S_IFREG {
            return reply.error(Errno::ENOSYS);
        }
        match self.new_node(parent, name, (mode & 0o7777) as u16, false) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, mode: u32, _umask: u32, reply: ReplyEntry) {
        match self.new_node(parent, name, (mode & 0o7777) as u16, true) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        match self.new_node(parent, name, (mode & 0o7777) as u16, false) {
            Ok(attr) => reply.created(&TTL, &attr, Generation(0), FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.lock();
        let Some(ino) = state.child(parent.0, name) else { return reply.error(Errno::ENOENT) };
        if let Err(e) = std::fs::remove_file(state.path(ino)) {
            return reply.error(Errno::from(e));
        }
        if let Some(Node { body: Body::Dir(children), .. }) = state.nodes.get_mut(&parent.0) {
            children.remove(name);
        }
        state.nodes.remove(&ino);
        reply.ok();
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.lock();
        let Some(ino) = state.child(parent.0, name) else { return reply.error(Errno::ENOENT) };
        if matches!(state.nodes.get(&ino), Some(Node { body: Body::Dir(c), .. }) if !c.is_empty()) {
            return reply.error(Errno::ENOTEMPTY);
        }
        if let Err(e) = std::fs::remove_dir(state.path(ino)) {
            return reply.error(Errno::from(e));
        }
        if let Some(Node { body: Body::Dir(children), .. }) = state.nodes.get_mut(&parent.0) {
            children.remove(name);
        }
        state.nodes.remove(&ino);
        reply.ok();
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mut state = self.lock();
        let Some(ino) = state.child(parent.0, name) else { return reply.error(Errno::ENOENT) };
        let (from, to) = (state.path(ino), state.path(newparent.0).join(newname));
        if let Err(e) = std::fs::rename(&from, &to) {
            return reply.error(Errno::from(e));
        }
        if let Some(replaced) = state.child(newparent.0, newname) {
            state.nodes.remove(&replaced);
        }
        if let Some(Node { body: Body::Dir(children), .. }) = state.nodes.get_mut(&parent.0) {
            children.remove(name);
        }
        if let Some(Node { body: Body::Dir(children), .. }) = state.nodes.get_mut(&newparent.0) {
            children.insert(newname.to_os_string(), ino);
        }
        if let Some(node) = state.nodes.get_mut(&ino) {
            node.parent = newparent.0;
            node.name = newname.to_os_string();
        }
        reply.ok();
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.lock().nodes.get(&ino.0) {
            Some(_) => reply.opened(FileHandle(0), FopenFlags::empty()),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let mut state = self.lock();
        match state.data(ino.0) {
            Ok(data) => {
                let len = data.current.len();
                let start = (offset as usize).min(len);
                let end = start.saturating_add(size as usize).min(len);
                reply.data(&data.current[start..end]);
            }
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        bytes: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut state = self.lock();
        state.stats.writes += 1;
        match state.data(ino.0) {
            Ok(data) => {
                let end = offset as usize + bytes.len();
                if data.current.len() < end {
                    data.current.resize(end, 0);
                }
                data.current[offset as usize..end].copy_from_slice(bytes);
                if !bytes.is_empty() {
                    data.dirty.extend(offset / PAGE..=(end as u64 - 1) / PAGE);
                }
                reply.written(bytes.len() as u32);
            }
            Err(e) => reply.error(e),
        }
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        match self.lock().sync(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(Errno::from(e)),
        }
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let state = self.lock();
        let Some(node) = state.nodes.get(&ino.0) else { return reply.error(Errno::ENOENT) };
        let Body::Dir(children) = &node.body else { return reply.error(Errno::ENOTDIR) };
        let mut entries: Vec<(u64, FileType, OsString)> =
            vec![(ino.0, FileType::Directory, ".".into()), (node.parent, FileType::Directory, "..".into())];
        for (name, child) in children {
            let kind = match state.nodes.get(child).map(|n| &n.body) {
                Some(Body::Dir(_)) => FileType::Directory,
                _ => FileType::RegularFile,
            };
            entries.push((*child, kind, name.clone()));
        }
        for (i, (child, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(1 << 24, 1 << 23, 1 << 23, 1 << 20, 1 << 19, PAGE as u32, 255, PAGE as u32);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        if mode != 0 {
            return reply.error(Errno::ENOSYS);
        }
        let mut state = self.lock();
        match state.data(ino.0) {
            Ok(data) => {
                let end = (offset + length) as usize;
                if data.current.len() < end {
                    let old = data.current.len() as u64;
                    data.current.resize(end, 0);
                    data.dirty.extend(old / PAGE..=(end as u64).saturating_sub(1) / PAGE);
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }
}

/// A mounted lossy layer.
pub struct Lossy {
    state: Arc<Mutex<State>>,
    mountpoint: PathBuf,
    session: Option<BackgroundSession>,
}

fn spawn(state: &Arc<Mutex<State>>, mountpoint: &Path) -> std::io::Result<BackgroundSession> {
    let mut config = Config::default();
    config.mount_options = vec![MountOption::FSName("bulwark-lossy".into()), MountOption::RW];
    config.n_threads = Some(2);
    fuser::spawn_mount(LossyFs { state: state.clone() }, mountpoint, &config)
}

impl Lossy {
    /// Serves the files of `backing` at `mountpoint`. Needs `/dev/fuse` and the right to mount
    /// (root, or fusermount3 for an ordinary user).
    pub fn mount(backing: &Path, mountpoint: &Path) -> anyhow::Result<Lossy> {
        if !Path::new("/dev/fuse").exists() {
            anyhow::bail!("/dev/fuse does not exist: mode P needs FUSE");
        }
        let state = Arc::new(Mutex::new(State::load(backing)?));
        let session = spawn(&state, mountpoint)
            .map_err(|e| anyhow::anyhow!("mounting the lossy layer at {}: {e}", mountpoint.display()))?;
        Ok(Lossy { state, mountpoint: mountpoint.to_path_buf(), session: Some(session) })
    }

    fn unmount_now(&mut self) -> anyhow::Result<()> {
        if let Some(session) = self.session.take()
            && let Err(e) = session.umount_and_join()
        {
            // Busy (a process still holds a file): detach instead.
            let status = std::process::Command::new("umount").arg("-l").arg(&self.mountpoint).status();
            if !status.is_ok_and(|s| s.success()) {
                anyhow::bail!("unmounting {}: {e}", self.mountpoint.display());
            }
        }
        Ok(())
    }

    /// The power cut: unmount (every dirty page the kernel held reaches this layer), forget every
    /// write not fsynced, mount again. Call it only after the server is dead.
    pub fn power_loss(&mut self) -> anyhow::Result<()> {
        self.unmount_now()?;
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).power_loss();
        self.session = Some(spawn(&self.state, &self.mountpoint)?);
        Ok(())
    }

    pub fn stats(&self) -> LossyStats {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).stats
    }

    pub fn unmount(mut self) {
        if let Err(e) = self.unmount_now() {
            eprintln!("lossyfs: {e}");
        }
    }
}

impl Drop for Lossy {
    fn drop(&mut self) {
        let _ = self.unmount_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};

    /// Mounts a lossy layer, or says why not (no /dev/fuse, not allowed to mount) and skips.
    fn mounted() -> Option<(tempfile::TempDir, PathBuf, PathBuf, Lossy)> {
        let dir = tempfile::tempdir().unwrap();
        let (backing, mnt) = (dir.path().join("backing"), dir.path().join("mnt"));
        std::fs::create_dir_all(&backing).unwrap();
        std::fs::create_dir_all(&mnt).unwrap();
        std::fs::write(backing.join("old.txt"), b"synced long ago").unwrap();
        match Lossy::mount(&backing, &mnt) {
            Ok(lossy) => Some((dir, backing, mnt, lossy)),
            Err(e) => {
                eprintln!("skipped: {e}");
                None
            }
        }
    }

    #[test]
    fn unsynced_writes_are_forgotten_and_synced_ones_kept() {
        let Some((_dir, backing, mnt, mut lossy)) = mounted() else { return };
        assert_eq!(std::fs::read(mnt.join("old.txt")).unwrap(), b"synced long ago");
        let mut kept = std::fs::File::create(mnt.join("kept")).unwrap();
        kept.write_all(&vec![1u8; 10_000]).unwrap();
        kept.sync_data().unwrap();
        kept.write_all(b"tail not synced").unwrap();
        kept.seek(SeekFrom::Start(0)).unwrap();
        kept.write_all(b"head not synced").unwrap();
        drop(kept);
        let mut lost = std::fs::File::create(mnt.join("lost")).unwrap();
        lost.write_all(b"never synced").unwrap();
        drop(lost);
        // Before the cut, readers see everything; the backing files hold only what was synced.
        assert_eq!(std::fs::metadata(mnt.join("kept")).unwrap().len(), 10_015);
        assert_eq!(std::fs::read(backing.join("kept")).unwrap(), vec![1u8; 10_000]);

        lossy.power_loss().unwrap();
        assert_eq!(std::fs::read(mnt.join("kept")).unwrap(), vec![1u8; 10_000]);
        assert_eq!(std::fs::read(mnt.join("lost")).unwrap(), b"", "the name survives, the data does not");
        assert_eq!(std::fs::read(mnt.join("old.txt")).unwrap(), b"synced long ago");
        let stats = lossy.stats();
        assert_eq!(stats.power_losses, 1);
        assert!(stats.dropped_pages >= 3, "{stats:?}");

        // Renames and deletes go through; a file can be read back after it is synced.
        std::fs::rename(mnt.join("kept"), mnt.join("renamed")).unwrap();
        std::fs::remove_file(mnt.join("lost")).unwrap();
        let mut f = std::fs::OpenOptions::new().read(true).write(true).open(mnt.join("renamed")).unwrap();
        f.set_len(5).unwrap();
        f.sync_all().unwrap();
        let mut text = Vec::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut text).unwrap();
        assert_eq!(text, vec![1u8; 5]);
        drop(f);
        let names: Vec<_> = std::fs::read_dir(&mnt).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        lossy.unmount();
        assert_eq!(std::fs::read(backing.join("renamed")).unwrap(), vec![1u8; 5]);
        assert!(!backing.join("lost").exists());
    }

    /// The writer of [`sqlite_commits_survive_a_cut_with_full_and_not_with_normal`], run in a
    /// child process (this test binary again) so that it can be killed like a server. A no-op in
    /// an ordinary test run.
    #[test]
    fn sqlite_child_writer() {
        let Ok(spec) = std::env::var("LOSSYFS_CHILD") else { return };
        let (path, sync) = spec.split_once('|').unwrap();
        let db = rusqlite::Connection::open(path).unwrap();
        db.execute_batch(&format!("PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; CREATE TABLE t (x)")).unwrap();
        // Straight to stdout: the test harness captures print! but not the stream itself.
        let mut out = std::io::stdout();
        for i in 0..200 {
            db.execute("INSERT INTO t VALUES (?1)", [i]).unwrap();
            // Acknowledged: the commit returned.
            writeln!(out, "committed {i}").unwrap();
            out.flush().unwrap();
        }
        // Wait to be killed (bounded, should the parent have died).
        std::thread::sleep(Duration::from_secs(60));
    }

    /// SQLite in WAL mode on the layer, the writer killed with SIGKILL after 200 acknowledged
    /// commits, then a power cut: with synchronous=FULL all 200 rows are there; with NORMAL they
    /// are not (the layer tells the two apart, as LazyFS did for the prototype).
    #[test]
    fn sqlite_commits_survive_a_cut_with_full_and_not_with_normal() {
        use std::io::BufRead;
        let Some((_dir, _backing, mnt, mut lossy)) = mounted() else { return };
        let mut run = |sync: &str| -> i64 {
            let path = mnt.join(format!("{sync}.db"));
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "lossyfs::tests::sqlite_child_writer", "--nocapture", "--test-threads", "1"])
                .env("LOSSYFS_CHILD", format!("{}|{sync}", path.display()))
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
            let acked = stdout.lines().map_while(Result::ok).filter(|l| l.contains("committed ")).take(200).count();
            assert_eq!(acked, 200);
            child.kill().unwrap();
            child.wait().unwrap();
            lossy.power_loss().unwrap();
            let db = rusqlite::Connection::open(&path).unwrap();
            db.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap_or(-1)
        };
        assert_eq!(run("FULL"), 200);
        let normal = run("NORMAL");
        assert!(normal < 200, "synchronous=NORMAL kept all 200 acknowledged rows across a power cut");
        eprintln!("synchronous=NORMAL: {normal} of 200 acknowledged rows after the cut (-1: no table)");
        lossy.unmount();
    }
}
