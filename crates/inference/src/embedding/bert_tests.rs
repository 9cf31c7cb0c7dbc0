//! Tests of the BERT forward pass (kept beside it, in their own file).

use super::*;

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn hidden_states_match_candle_transformers_bert() {
    use candle_core::{DType, Tensor};
    let dir = crate::embedding::test_model_dir();
    let bytes = std::fs::read(dir.join("config.json")).unwrap();
    let config: Config = serde_json::from_slice(&bytes).unwrap();
    let reference_config: candle_transformers::models::bert::Config =
        serde_json::from_slice(&bytes).unwrap();
    let ours = Bert::open(&dir.join("model.safetensors"), config).unwrap();
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let device = candle_core::Device::Cpu;
    let vb =
        candle_nn::VarBuilder::from_buffered_safetensors(weights, DType::F32, &device).unwrap();
    let reference =
        candle_transformers::models::bert::BertModel::load(vb, &reference_config).unwrap();
    // Texts of different lengths: candle pads them to the longest, we do not. Two
    // short ones take the few-rows path, all three together the gemm path.
    let long: Vec<u32> = [101].into_iter().chain(2000..2022).chain([102]).collect();
    let texts: [&[u32]; 3] = [&[101, 7592, 2088, 999, 102], &[101, 4937, 102], &long];
    let zeros = [0u32; 24];
    let mut ids = Vec::new();
    let mut mask = Vec::new();
    for text in texts {
        let mut row = text.to_vec();
        row.resize(long.len(), 0);
        ids.push(row);
        mask.push(
            (0..long.len())
                .map(|i| u32::from(i < text.len()))
                .collect::<Vec<_>>(),
        );
    }
    let ids = Tensor::new(ids, &device).unwrap();
    let types = ids.zeros_like().unwrap();
    let mask = Tensor::new(mask, &device).unwrap();
    let expected = reference
        .forward(&ids, &types, Some(&mask))
        .unwrap()
        .to_vec3::<f32>()
        .unwrap();
    let width = ours.hidden_size();
    for count in [2, 3] {
        let sequences: Vec<Sequence<'_>> = texts[..count]
            .iter()
            .map(|ids| Sequence {
                ids,
                types: &zeros[..ids.len()],
            })
            .collect();
        let hidden = ours.forward(&sequences, 1);
        let mut rows = hidden.chunks_exact(width);
        for (row, text) in texts[..count].iter().enumerate() {
            for (token, expected) in expected[row].iter().take(text.len()).enumerate() {
                let worst = rows
                    .next()
                    .unwrap()
                    .iter()
                    .zip(expected)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0f32, f32::max);
                assert!(
                    worst < 1e-3,
                    "{count} texts, row {row} token {token}: {worst}"
                );
            }
        }
        assert!(rows.next().is_none());
    }
}

#[test]
fn groups_keep_the_order_and_share_the_tokens() {
    let ids: Vec<Vec<u32>> = [5usize, 1, 1, 1, 4, 2, 2]
        .iter()
        .map(|&n| vec![7; n])
        .collect();
    let sequences: Vec<Sequence<'_>> = ids.iter().map(|ids| Sequence { ids, types: &[] }).collect();
    let lengths = |groups: &[&[Sequence<'_>]]| -> Vec<usize> {
        groups
            .iter()
            .map(|g| g.iter().map(|s| s.ids.len()).sum())
            .collect()
    };
    assert_eq!(lengths(&token_balanced_groups(&sequences, 512, 2)), [8, 8]);
    assert_eq!(lengths(&token_balanced_groups(&sequences, 512, 1)), [16]);
    let many = token_balanced_groups(&sequences, 512, 100);
    assert_eq!(many.iter().map(|g| g.len()).sum::<usize>(), sequences.len());
    assert!(token_balanced_groups(&[], 512, 2).is_empty());
}

#[test]
fn a_file_that_is_not_safetensors_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    std::fs::write(&path, b"\xff\xff\xff\xff\xff\xff\xff\x7fnot json").unwrap();
    let config: Config = serde_json::from_str(
        r#"{"vocab_size": 4, "hidden_size": 4, "num_hidden_layers": 1,
            "num_attention_heads": 1, "intermediate_size": 8,
            "max_position_embeddings": 4, "type_vocab_size": 1}"#,
    )
    .unwrap();
    let err = Bert::open(&path, config).err().unwrap();
    assert!(err.to_string().contains("not a safetensors file"), "{err}");
}

#[test]
fn a_few_rows_shared_among_threads_give_the_same_product() {
    let (rows, k, n) = (5, 64, 1031);
    let input: Vec<f32> = (0..rows * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
    let weight: Vec<f32> = (0..n * k).map(|i| ((i * 5) % 11) as f32 * 0.1).collect();
    let bias: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let stride = n + 3;
    let mut alone = vec![0.0f32; rows * stride];
    few_rows_times_transposed(&input, rows, &weight, k, &bias, &mut alone, stride);
    for threads in [2, 3, 8] {
        let mut shared = vec![0.0f32; rows * stride];
        few_rows_shared(
            &input,
            rows,
            (&weight, k, &bias),
            &mut shared,
            stride,
            threads,
        );
        assert_eq!(alone, shared, "{threads} threads");
    }
}
