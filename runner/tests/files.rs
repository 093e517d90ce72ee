//! `WriteFiles`: where files land, their modes, and the paths refused.

mod common;

use std::os::unix::fs::PermissionsExt;

use coderun_runner::wire::{File, RunnerMsg};
use common::{file, sh, Runner};

fn mode(r: &Runner, path: &str) -> u32 {
    std::fs::symlink_metadata(r.dir.join(path)).unwrap().permissions().mode() & 0o7777
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[tokio::test]
async fn files_are_written_with_their_parent_directories() {
    let mut r = Runner::start().await;
    let mut exe = file("bin/run.sh", "#!/bin/sh\necho ran\n");
    exe.executable = true;
    let files = vec![file("main.py", "print(1)\n"), file("pkg/sub/mod.py", "x = 1\n"), exe];
    assert_eq!(r.write_files(files).await, RunnerMsg::FilesWritten);
    assert_eq!(r.read("main.py"), "print(1)\n");
    assert_eq!(r.read("pkg/sub/mod.py"), "x = 1\n");
    let (file_mode, exec_mode, dir_mode) = if is_root() { (0o666, 0o777, 0o777) } else { (0o644, 0o755, 0o755) };
    assert_eq!(mode(&r, "main.py"), file_mode);
    assert_eq!(mode(&r, "bin/run.sh"), exec_mode);
    assert_eq!(mode(&r, "pkg/sub"), dir_mode);
    assert_eq!(r.stage(common::spec(&["./bin/run.sh"])).await.stdout(), "ran\n");
}

#[tokio::test]
async fn writing_a_file_again_replaces_it() {
    let mut r = Runner::start().await;
    assert_eq!(r.write_files(vec![file("a.txt", "a much longer first version")]).await, RunnerMsg::FilesWritten);
    assert_eq!(r.write_files(vec![file("a.txt", "second")]).await, RunnerMsg::FilesWritten);
    assert_eq!(r.read("a.txt"), "second");
}

#[tokio::test]
async fn escaping_paths_are_refused_and_nothing_is_written() {
    let mut r = Runner::start().await;
    for bad in ["../x", "/etc/coderun-test", "a/../../x", "a//b", "./a", "a\\b", ""] {
        let reply = r.write_files(vec![file("fine.txt", "ok"), file(bad, "evil")]).await;
        assert!(
            matches!(&reply, RunnerMsg::Error { message } if message.contains("refused path")),
            "{bad:?}: {reply:?}"
        );
    }
    // Paths are checked before anything is written.
    assert!(!r.dir.join("fine.txt").exists());
    assert!(!r.dir.parent().unwrap().join("x").exists());
    assert!(!std::path::Path::new("/etc/coderun-test").exists());
}

#[tokio::test]
async fn a_symlink_left_by_a_stage_is_replaced_not_followed() {
    let mut r = Runner::start().await;
    let outside = r.dir.with_extension("outside");
    std::fs::write(&outside, "untouched").unwrap();
    let run = r.stage(sh(&format!("ln -s {} link.txt", outside.display()))).await;
    assert_eq!(run.report().exit_code, Some(0));
    assert_eq!(r.write_files(vec![file("link.txt", "mine")]).await, RunnerMsg::FilesWritten);
    let target = std::fs::read_to_string(&outside).unwrap();
    std::fs::remove_file(&outside).unwrap();
    assert_eq!(target, "untouched");
    assert!(std::fs::symlink_metadata(r.dir.join("link.txt")).unwrap().file_type().is_file());
    assert_eq!(r.read("link.txt"), "mine");
}

#[tokio::test]
async fn a_symlinked_directory_left_by_a_stage_is_not_entered() {
    let mut r = Runner::start().await;
    let outside = r.dir.with_extension("outside-dir");
    std::fs::create_dir_all(&outside).unwrap();
    let run = r.stage(sh(&format!("ln -s {} sub", outside.display()))).await;
    assert_eq!(run.report().exit_code, Some(0));
    let reply = r.write_files(vec![file("sub/x.txt", "evil")]).await;
    let escaped = outside.join("x.txt").exists();
    std::fs::remove_dir_all(&outside).unwrap();
    assert!(matches!(&reply, RunnerMsg::Error { message } if message.contains("sub/x.txt")), "{reply:?}");
    assert!(!escaped, "the file was written through the link");
}

#[tokio::test]
async fn a_directory_in_the_way_is_an_error() {
    let mut r = Runner::start().await;
    assert_eq!(r.write_files(vec![file("d/inner.txt", "x")]).await, RunnerMsg::FilesWritten);
    let reply = r.write_files(vec![File { path: "d".into(), content: b"x".to_vec(), executable: false }]).await;
    assert!(matches!(reply, RunnerMsg::Error { .. }), "{reply:?}");
    assert_eq!(r.read("d/inner.txt"), "x");
}
