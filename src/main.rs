fn main() -> std::process::ExitCode {
    xks_lint::cli::main()
}
