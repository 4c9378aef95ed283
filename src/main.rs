// The pipeline allocates many small tree nodes from several threads at once; glibc's
// arenas spend a third of a large run in page faults and mprotect there, mimalloc does not.
// `--features system-allocator` leaves the system's malloc in place, for heap profilers
// such as heaptrack that only see malloc.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (15 in both v2, the one built, and
/// v3: the enum keeps retired options in place, so the number does not move).
/// `libmimalloc-sys` names no constant for it; the test below checks the number against the
/// option's default (10 ms in v2's `options.c`).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // mimalloc gives memory back to the kernel soon after it is freed, and the next
    // allocation there faults and zeroes it again. Each stage frees much of what the one
    // before built, so a run of 100,000 workloads took 36,000 page faults instead of
    // 2,400 and a quarter of its system time on them. The process is short-lived: keep
    // freed memory for reuse. Peak RSS pays a little: at 100,000 workloads purging at once
    // ended 70-110 MB lower (of ~1.95 GB) but took ~1 s more, mostly system time.
    // SAFETY: sets an integer option of the allocator, as its documentation allows at
    // any time; no pointer is involved.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    refuse_transparent_huge_pages();
    xks_lint::cli::main()
}

/// mimalloc asks for transparent huge pages on its arenas. On a virtual machine whose
/// balloon driver hands free 2 MiB blocks back to the host (free page reporting), a
/// huge-page fault lands on memory the host must back again page by page: measured
/// here, `check` at 20,000 workloads spent 2.3–4.3 s of system time zeroing instead of
/// 0.45–0.55 s with 4 KiB pages, and peak RSS was 6–12 % higher. Small pages cost more
/// faults but the same every run.
#[cfg(target_os = "linux")]
fn refuse_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and changes nothing but
    // this process's page-size choice for later faults; on a kernel without it the call
    // fails and the process keeps the system's setting.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

#[cfg(not(target_os = "linux"))]
fn refuse_transparent_huge_pages() {}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads an integer option of the allocator.
        let default = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        let from_environment = std::env::var("MIMALLOC_PURGE_DELAY").ok();
        let expected = from_environment.and_then(|v| v.parse().ok()).unwrap_or(10);
        assert_eq!(
            default, expected,
            "option 15 is not mimalloc's purge delay (default 10 ms in v2)"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_are_refused_for_the_process() {
        super::refuse_transparent_huge_pages();
        // SAFETY: reads this thread's flag, integer arguments only.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(disabled, 1);
    }
}
