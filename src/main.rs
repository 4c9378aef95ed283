// The pipeline allocates many small tree nodes from several threads at once; glibc's
// arenas spend a third of a large run in page faults and mprotect there, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    xks_lint::cli::main()
}
