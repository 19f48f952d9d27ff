//! One shared-memory segment: a memfd on Linux, a private file elsewhere.
//!
//! The creator sizes the segment up front (`fallocate`), so running out of
//! `/dev/shm` is an error here rather than a SIGBUS on first touch. The peer
//! maps it through a [`SegmentLocator`]: `/proc/<pid>/fd/<n>` for a memfd, or a
//! file path that the creator unlinks once the peer has mapped it.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use memmap2::{MmapOptions, MmapRaw};

/// Largest segment either side creates: Java maps at most 2 GiB per buffer,
/// and a buffer never crosses a segment, so 1 GiB leaves room to spare.
pub const MAX_SEGMENT_SIZE: usize = crate::shm_layout::MAX_SEGMENT_SIZE as usize;

/// How the peer finds a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentLocator {
    /// A memfd held open by process `pid` as descriptor `fd`.
    Memfd {
        /// The owning process.
        pid: u32,
        /// The descriptor number inside that process.
        fd: i32,
    },
    /// A regular file (the fallback where memfd is unavailable).
    File(PathBuf),
}

impl SegmentLocator {
    /// The path the peer opens to map the segment.
    pub fn path(&self) -> PathBuf {
        match self {
            SegmentLocator::Memfd { pid, fd } => PathBuf::from(format!("/proc/{pid}/fd/{fd}")),
            SegmentLocator::File(path) => path.clone(),
        }
    }
}

/// Where a process creates its segments, which decides how the peer reaches
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentPlace {
    /// memfds, which the peer maps through `/proc/<pid>/fd/<n>`: only a peer
    /// allowed to look into this process (the JVM we launched, our child)
    /// can. Files in `fallback_dir` where memfd is unavailable.
    Memfd {
        /// Private (0700) directory for the file fallback.
        fallback_dir: PathBuf,
    },
    /// Files only, in this private (0700) directory: for a peer that is not
    /// our child (a JVM that hosts the server), which may not open our
    /// descriptors under the usual ptrace restrictions.
    Files(PathBuf),
}

/// Why a segment could not be created or mapped.
#[derive(Debug)]
pub enum SegmentError {
    /// The requested size is zero or above [`MAX_SEGMENT_SIZE`].
    BadSize(usize),
    /// The system refused to reserve the memory (e.g. `/dev/shm` is full).
    OutOfSpace {
        /// Bytes requested.
        size: usize,
        /// The underlying error.
        source: io::Error,
    },
    /// Any other system call failed.
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentError::BadSize(size) => write!(
                f,
                "segment size {size} is outside 1..={MAX_SEGMENT_SIZE} bytes"
            ),
            SegmentError::OutOfSpace { size, source } => write!(
                f,
                "cannot reserve {size} bytes of shared memory ({source}); free space in /dev/shm or lower the memory setting"
            ),
            SegmentError::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for SegmentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SegmentError::BadSize(_) => None,
            SegmentError::OutOfSpace { source, .. } | SegmentError::Io { source, .. } => {
                Some(source)
            }
        }
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> SegmentError {
    let context = context.into();
    move |source| SegmentError::Io { context, source }
}

/// A mapped shared-memory segment.
///
/// The mapping lives as long as the `Segment`; pointers into it must not
/// outlive it.
pub struct Segment {
    map: MmapRaw,
    file: File,
    locator: SegmentLocator,
    /// Backing file still to unlink (file fallback, created by us).
    unlink_on_drop: Option<PathBuf>,
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("locator", &self.locator)
            .field("len", &self.len())
            .finish()
    }
}

impl Segment {
    /// Creates a zero-filled segment of `size` bytes as a memfd named
    /// `gatun-<name>`, falling back to a private file in `fallback_dir` where
    /// memfd is unavailable.
    pub fn create(name: &str, size: usize, fallback_dir: &Path) -> Result<Segment, SegmentError> {
        check_size(size)?;
        match create_memfd(name) {
            Ok(fd) => {
                let file = File::from(fd);
                let locator = SegmentLocator::Memfd {
                    pid: std::process::id(),
                    fd: file.as_raw_fd(),
                };
                Self::finish_create(file, size, locator, None)
            }
            Err(_) => Self::create_file(size, fallback_dir),
        }
    }

    /// Creates a zero-filled segment of `size` bytes where `place` says.
    pub fn create_in(
        place: &SegmentPlace,
        name: &str,
        size: usize,
    ) -> Result<Segment, SegmentError> {
        match place {
            SegmentPlace::Memfd { fallback_dir } => Self::create(name, size, fallback_dir),
            SegmentPlace::Files(dir) => Self::create_file(size, dir),
        }
    }

    /// Creates a segment backed by a new file with a random 128-bit name in
    /// `dir` (which should be a private 0700 directory), mode 0600.
    pub fn create_file(size: usize, dir: &Path) -> Result<Segment, SegmentError> {
        check_size(size)?;
        let name = format!("seg-{:032x}", rand::random::<u128>());
        let path = dir.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(io_err(format!("creating segment file {}", path.display())))?;
        let locator = SegmentLocator::File(path.clone());
        Self::finish_create(file, size, locator, Some(path))
    }

    fn finish_create(
        file: File,
        size: usize,
        locator: SegmentLocator,
        unlink_on_drop: Option<PathBuf>,
    ) -> Result<Segment, SegmentError> {
        reserve(&file, size)?;
        let map = MmapOptions::new()
            .len(size)
            .map_raw(&file)
            .map_err(io_err("mapping new segment"))?;
        Ok(Segment {
            map,
            file,
            locator,
            unlink_on_drop,
        })
    }

    /// Maps a segment the peer created.
    pub fn open(locator: &SegmentLocator, size: usize) -> Result<Segment, SegmentError> {
        check_size(size)?;
        let path = locator.path();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(io_err(format!("opening peer segment {}", path.display())))?;
        let actual = file
            .metadata()
            .map_err(io_err("reading segment size"))?
            .len();
        if actual < size as u64 {
            return Err(SegmentError::Io {
                context: format!(
                    "peer segment {} is {actual} bytes, expected {size}",
                    path.display()
                ),
                source: io::Error::from(io::ErrorKind::InvalidData),
            });
        }
        let map = MmapOptions::new()
            .len(size)
            .map_raw(&file)
            .map_err(io_err("mapping peer segment"))?;
        Ok(Segment {
            map,
            file,
            locator: locator.clone(),
            unlink_on_drop: None,
        })
    }

    /// Start of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Always false: segments are never empty.
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// How the peer maps this segment.
    pub fn locator(&self) -> &SegmentLocator {
        &self.locator
    }

    /// The descriptor backing the mapping.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Removes the backing file's name once the peer has mapped it, so nothing
    /// is left behind even if this process is killed later. No-op for memfds.
    pub fn unlink_backing_file(&mut self) -> io::Result<()> {
        if let Some(path) = self.unlink_on_drop.take() {
            std::fs::remove_file(path)?;
        }
        Ok(())
    }
}

/// Private zero-filled memory left at a segment's address by
/// [`Segment::vacate`]; unmapped on drop.
#[derive(Debug)]
pub struct VacatedSegment {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the range is owned by this value alone and only unmapped on drop.
unsafe impl Send for VacatedSegment {}
// SAFETY: as above; `&VacatedSegment` gives no access to the memory.
unsafe impl Sync for VacatedSegment {}

impl VacatedSegment {
    /// A placeholder owning no memory.
    pub fn none() -> VacatedSegment {
        VacatedSegment {
            ptr: std::ptr::null_mut(),
            len: 0,
        }
    }
}

impl Drop for VacatedSegment {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: `ptr..ptr + len` is the private mapping `vacate` made, which
        // nothing else unmaps.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

impl Segment {
    /// Gives the shared memory back (unmaps it and closes its descriptor)
    /// while the address range stays valid: private zero pages take the
    /// mapping's place in one `mmap(MAP_FIXED)`, so a pointer some thread
    /// still holds reads zeros and writes to nowhere instead of faulting.
    /// For a segment other code may still touch through raw pointers after
    /// the session ends (the control segment).
    /// Fails only if the kernel cannot map the replacement (out of memory);
    /// the segment then comes back untouched.
    pub fn vacate(mut self) -> Result<VacatedSegment, Segment> {
        let (ptr, len) = (self.as_ptr(), self.len());
        // SAFETY: MAP_FIXED over exactly the range this segment maps, which
        // it owns: no other mapping is affected, and the replacement is
        // atomic (the range is never unmapped in between).
        let got = unsafe {
            libc::mmap(
                ptr.cast(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if got == libc::MAP_FAILED {
            return Err(self);
        }
        if let Some(path) = self.unlink_on_drop.take() {
            let _ = std::fs::remove_file(path);
        }
        // The range now belongs to the private mapping: the segment's own
        // unmap must not run, its descriptor must close.
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so each field is
        // moved out exactly once.
        let (map, file, locator) = unsafe {
            (
                std::ptr::read(&this.map),
                std::ptr::read(&this.file),
                std::ptr::read(&this.locator),
            )
        };
        std::mem::forget(map);
        drop((file, locator));
        Ok(VacatedSegment { ptr, len })
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if let Some(path) = self.unlink_on_drop.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn check_size(size: usize) -> Result<(), SegmentError> {
    if size == 0 || size > MAX_SEGMENT_SIZE {
        return Err(SegmentError::BadSize(size));
    }
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn create_memfd(name: &str) -> io::Result<OwnedFd> {
    let cname = std::ffi::CString::new(format!("gatun-{name}"))
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // On Linux, the system call itself rather than glibc's wrapper, which only
    // glibc 2.27+ has: the wheels are built for glibc 2.17 (manylinux2014), and
    // a module naming the wrapper would not even load on an older glibc.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: `cname` is a valid NUL-terminated string for the duration of the
    // call; memfd_create takes a name pointer and flags and returns an fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_memfd_create, cname.as_ptr(), libc::MFD_CLOEXEC) };
    #[cfg(target_os = "freebsd")]
    // SAFETY: `cname` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // A descriptor always fits in an int (the syscall returns it as a long).
    let fd = fd as RawFd;
    // SAFETY: `fd` was just returned by memfd_create and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn create_memfd(_name: &str) -> io::Result<OwnedFd> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Reserves the backing pages now so exhaustion is reported here.
fn reserve(file: &File, size: usize) -> Result<(), SegmentError> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system call on a descriptor we own.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, size as libc::off_t) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EOPNOTSUPP) {
            return Err(SegmentError::OutOfSpace { size, source: err });
        }
    }
    file.set_len(size as u64)
        .map_err(|source| SegmentError::OutOfSpace { size, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vacated_segment_frees_its_descriptor_and_leaves_zeros() {
        let seg = Segment::create("vacate", 1 << 16, &std::env::temp_dir()).unwrap();
        let fd = seg.file().as_raw_fd();
        let ptr = seg.as_ptr();
        // SAFETY: offset 10 is inside the mapping.
        unsafe { ptr.add(10).write(9) };
        let vacated = seg.vacate().unwrap();
        // SAFETY: the address range is still mapped (privately) by `vacated`.
        assert_eq!(unsafe { ptr.add(10).read() }, 0);
        let target = std::fs::read_link(format!("/proc/self/fd/{fd}"));
        assert!(
            !target.is_ok_and(|t| t.to_string_lossy().contains("gatun-vacate")),
            "the memfd is closed"
        );
        drop(vacated);
    }

    #[test]
    fn memfd_segment_is_visible_to_a_second_mapping() {
        let dir = std::env::temp_dir();
        let seg = Segment::create("test", 1 << 16, &dir).unwrap();
        // SAFETY: offset 100 is inside the 64 KiB mapping.
        unsafe { seg.as_ptr().add(100).write(42) };
        let peer = Segment::open(seg.locator(), 1 << 16).unwrap();
        // SAFETY: same offset inside the peer's mapping of the same memory.
        assert_eq!(unsafe { peer.as_ptr().add(100).read() }, 42);
    }

    #[test]
    fn file_fallback_is_private_and_unlinked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir();
        let mut seg = Segment::create_file(4096, &dir).unwrap();
        let path = seg.locator().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let peer = Segment::open(seg.locator(), 4096).unwrap();
        seg.unlink_backing_file().unwrap();
        assert!(!path.exists());
        // SAFETY: offset 0 is inside both 4 KiB mappings of one file.
        unsafe { seg.as_ptr().write(7) };
        // SAFETY: as above.
        assert_eq!(unsafe { peer.as_ptr().read() }, 7);
    }

    #[test]
    fn sizes_outside_the_limit_are_refused() {
        let dir = std::env::temp_dir();
        assert!(matches!(
            Segment::create("x", 0, &dir),
            Err(SegmentError::BadSize(0))
        ));
        let too_big = MAX_SEGMENT_SIZE + 1;
        assert!(matches!(
            Segment::create("x", too_big, &dir),
            Err(SegmentError::BadSize(_))
        ));
    }
}
