//! The layers of the inference crate, checked as the application's are (see
//! `crates/layering`): the kernels at the bottom, the two kinds of model above them, each
//! knowing nothing of the other.

const RULES: localgpt_layering::Rules<'static> = localgpt_layering::Rules {
    layers: &[
        ("leaves", &["denormals", "kernels", "layers"]),
        ("models", &["chat", "embedding"]),
    ],
    admitted_circle: &[],
};

#[test]
fn modules_use_only_the_layers_below_them() {
    localgpt_layering::assert_layered(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &RULES,
    );
}
