//! `panka render` end to end: the real binary writes one program per
//! component under `wave-NN/<service>-<component>/`.

use assert_cmd::Command;

#[test]
fn render_writes_a_program_per_component_by_wave() {
    let out = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    Command::cargo_bin("panka")
        .unwrap()
        .env("HOME", home.path())
        .env_remove("AWS_ENDPOINT_URL")
        .args(["render", "-C", "examples/minimal", "-e", "dev", "--out-dir"])
        .arg(out.path())
        .assert()
        .success();
    let mut found = Vec::new();
    for wave in std::fs::read_dir(out.path()).unwrap() {
        let wave = wave.unwrap().path();
        for project in std::fs::read_dir(&wave).unwrap() {
            let project = project.unwrap().path();
            let text = std::fs::read_to_string(project.join("Pulumi.yaml")).unwrap();
            let program: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
            let name = project.file_name().unwrap().to_string_lossy().to_string();
            assert_eq!(program["name"].as_str(), Some(name.as_str()));
            assert_eq!(program["runtime"].as_str(), Some("yaml"));
            assert!(project.join("Pulumi.dev.yaml").exists());
            found.push(format!("{}/{name}", wave.file_name().unwrap().to_string_lossy()));
        }
    }
    found.sort();
    // The stack's shared program (its created cluster) first, as wave 0.
    assert_eq!(found, vec!["wave-00/minimal-shared", "wave-01/orders-jobs", "wave-02/orders-worker"]);
}

#[test]
fn render_needs_an_output_directory() {
    Command::cargo_bin("panka").unwrap().args(["render", "-C", "examples/minimal"]).assert().code(2);
}
