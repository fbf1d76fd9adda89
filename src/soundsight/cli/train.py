"""`soundsight train`: one command per model SoundSight trains; each resumes when run again."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from soundsight.cli.common import DEVICE, IMAGE_MODEL, NO_PROGRESS, attempt, log_progress, percent, quiet_libraries
from soundsight.defaults import SHAPES_PAINT

app = typer.Typer(no_args_is_help=True, help="Train SoundSight's own models from scratch.")


@app.command("shape-classifier")
def train_shape_classifier(
    out: Path = typer.Option(Path("runs/shape-classifier"), "--out", help="Folder for model.safetensors and its card."),
    num_train: int = typer.Option(40_000, "--num-train", help="Training renders."),
    num_eval: int = typer.Option(3_000, "--num-eval", help="Renders in each evaluation set."),
    epochs: int = typer.Option(8, "--epochs"),
    batch_size: int = typer.Option(256, "--batch-size"),
    learning_rate: float = typer.Option(3e-3, "--learning-rate"),
    p_augment: float = typer.Option(0.5, "--p-augment", help="Share of renders blurred, noised or turned."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    workers: int = typer.Option(0, "--workers", help="Render processes; 0 means one per core."),
    no_progress: bool = typer.Option(False, "--no-progress"),
) -> None:
    """Train the verifier's shape classifier on renders of masks."""
    from soundsight.train.shape_classifier import ShapeClassifierTrainConfig
    from soundsight.train.shape_classifier import main as train

    log_progress()
    config = attempt(lambda: ShapeClassifierTrainConfig(
        out, num_train, num_eval, epochs, batch_size, learning_rate, p_augment, seed, device, workers, not no_progress
    ))  # fmt: skip
    card = attempt(lambda: train(config))
    accuracy = ", ".join(f"{k} {percent(v)}" for k, v in card["accuracy"].items())
    typer.echo(f"saved '{out}': accuracy {accuracy}")


@app.command("asr")
def train_asr(
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `soundsight shapes build` folder."),
    out: Path = typer.Option(Path("runs/asr"), "--out", help="Run folder: checkpoints, log, final model in out/model."),
    extra_data: list[Path] = typer.Option(
        [], "--extra-data", help="More train clips in the same layout (`soundsight shapes voices`); repeatable."
    ),
    init_model: Path | None = typer.Option(
        None, "--init-model", help="Fine-tune this saved model instead of starting from scratch."
    ),
    tokenizer: Path = typer.Option(
        Path("../shared/data/tokenizers/multilingual.tiktoken"), "--tokenizer", help="OpenAI's multilingual.tiktoken."
    ),
    context_s: int = typer.Option(8, "--context-s", help="Audio window in seconds (OpenAI's models: 30)."),
    d_model: int = typer.Option(128, "--d-model"),
    encoder_layers: int = typer.Option(3, "--encoder-layers"),
    decoder_layers: int = typer.Option(2, "--decoder-layers"),
    attention_heads: int = typer.Option(4, "--attention-heads"),
    ffn_dim: int = typer.Option(512, "--ffn-dim"),
    steps: int = typer.Option(3000, "--steps"),
    batch_size: int = typer.Option(32, "--batch-size", help="Global batch, split over processes."),
    learning_rate: float = typer.Option(1.5e-3, "--learning-rate"),
    warmup_steps: int = typer.Option(200, "--warmup-steps"),
    checkpoint_every: int = typer.Option(200, "--checkpoint-every"),
    keep_checkpoints: int = typer.Option(2, "--keep-checkpoints"),
    validate_every: int = typer.Option(500, "--validate-every", help="0: never."),
    log_every: int = typer.Option(10, "--log-every", help="Steps between lines of out/log.jsonl."),
    seed: int = typer.Option(0, "--seed"),
    mixed_precision: str = typer.Option("no", "--mixed-precision", help="no, bf16 or fp16."),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train a Whisper on Spoken Shapes speech (from scratch or --init-model); run again to resume after a stop."""
    from soundsight.train.asr import AsrTrainConfig
    from soundsight.train.asr import main as train

    log_progress()
    quiet_libraries()
    config = attempt(lambda: AsrTrainConfig(
        data=data, out=out, extra_data=tuple(extra_data), init_model=init_model, tokenizer=tokenizer,
        context_s=context_s, d_model=d_model, encoder_layers=encoder_layers,
        decoder_layers=decoder_layers, attention_heads=attention_heads, ffn_dim=ffn_dim, steps=steps,
        batch_size=batch_size, learning_rate=learning_rate, warmup_steps=warmup_steps,
        checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints, validate_every=validate_every,
        log_every=log_every, seed=seed,
        mixed_precision=mixed_precision, progress=not no_progress,
    ))  # fmt: skip
    final = attempt(lambda: train(config))
    typer.echo(f"saved '{final}'")


def _ints(text: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected comma-separated integers", param_hint=name) from None
    return values


@app.command("image")
def train_image(
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `soundsight shapes build` folder."),
    out: Path = typer.Option(Path("runs/image"), "--out", help="Run folder: vae/, diffusion/, the pipeline in model/."),
    stage: str = typer.Option("all", "--stage", help="vae, diffusion, or all (vae then diffusion)."),
    tokenizer: Path = typer.Option(
        Path("../shared/data/tokenizers/bpe_simple_vocab_16e6.txt.gz"), "--tokenizer", help="OpenAI's CLIP BPE file."
    ),
    vae_channels: str = typer.Option(
        "16,32,64", "--vae-channels", help="Per level; each level after the first halves the side."
    ),
    unet_channels: str = typer.Option("64,128,128", "--unet-channels"),
    text_width: int = typer.Option(128, "--text-width"),
    text_layers: int = typer.Option(3, "--text-layers"),
    vae_steps: int = typer.Option(3000, "--vae-steps"),
    vae_batch_size: int = typer.Option(32, "--vae-batch-size"),
    steps: int = typer.Option(20_000, "--steps", help="Diffusion steps (text encoder and UNet)."),
    batch_size: int = typer.Option(64, "--batch-size", help="Global diffusion batch, split over processes."),
    learning_rate: float = typer.Option(8e-4, "--learning-rate", help="Diffusion learning rate."),
    guidance: float = typer.Option(
        SHAPES_PAINT.guidance, "--guidance", help="Classifier-free guidance of the validation images."
    ),
    ema_decay: float = typer.Option(
        0.999, "--ema-decay", help="EMA of the diffusion weights (about 1/(1-decay) steps averaged); 0 turns it off."
    ),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every"),
    validate_every: int = typer.Option(1000, "--validate-every", help="0: never."),
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    vae: Path | None = typer.Option(None, "--vae", help="Diffusion stage: this trained VAE instead of OUT/vae/model."),
    init_from: Path | None = typer.Option(
        None,
        "--init-from",
        help="Diffusion stage: start from this pipeline's text encoder and UNet (e.g. the shipped one).",
    ),
    vae_mixed_precision: str = typer.Option(
        "no", "--vae-mixed-precision", help="no, bf16 or fp16: bf16 pays only on GPUs and CPUs with AMX (measure)."
    ),
    mixed_precision: str = typer.Option("no", "--mixed-precision", help="Diffusion: no, bf16 or fp16 (measure)."),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train a Stable Diffusion from scratch on Spoken Shapes: the VAE, then text encoder and UNet.
    Run again to resume after a stop."""
    from soundsight.models.image_model import ImageModelConfig
    from soundsight.train import diffusion
    from soundsight.train import vae as vae_stage

    if stage not in ("vae", "diffusion", "all"):
        typer.echo(f"error: --stage {stage!r}: expected vae, diffusion or all", err=True)
        raise typer.Exit(1)
    log_progress()
    quiet_libraries()
    model = attempt(lambda: ImageModelConfig(vae_channels=_ints(vae_channels, "--vae-channels"),
                                              unet_channels=_ints(unet_channels, "--unet-channels"),
                                              text_width=text_width, text_layers=text_layers))  # fmt: skip
    if stage in ("vae", "all"):
        vae_config = attempt(lambda: vae_stage.VaeTrainConfig(
            data=data, out=out / "vae", model=model, steps=vae_steps, batch_size=vae_batch_size,
            checkpoint_every=checkpoint_every, log_every=log_every, seed=seed,
            mixed_precision=vae_mixed_precision, progress=not no_progress,
        ))  # fmt: skip
        typer.echo(f"saved '{attempt(lambda: vae_stage.main(vae_config))}'")
        from accelerate.state import AcceleratorState

        # The two stages may ask for different mixed precision; accelerate keeps one per process otherwise.
        AcceleratorState._reset_state()
    if stage in ("diffusion", "all"):
        diffusion_config = attempt(lambda: diffusion.DiffusionTrainConfig(
            data=data, out=out / "diffusion", vae=vae or out / "vae" / "model", tokenizer=tokenizer, model=model,
            init_from=init_from,
            steps=steps, batch_size=batch_size, learning_rate=learning_rate, guidance=guidance, ema_decay=ema_decay,
            checkpoint_every=checkpoint_every, validate_every=validate_every, log_every=log_every, seed=seed,
            mixed_precision=mixed_precision, progress=not no_progress,
        ))  # fmt: skip
        typer.echo(f"saved '{attempt(lambda: diffusion.main(diffusion_config))}'")


@app.command("vae-decoder")
def train_vae_decoder(
    vae: Path = typer.Option(..., "--vae", help="A trained VAE folder, e.g. the shipped model's vae/."),
    out: Path = typer.Option(Path("runs/vae-decoder"), "--out", help="Checkpoints, log.jsonl, the VAE in model/."),
    data: Path | None = typer.Option(None, "--data", help="A `shapes build` folder: checks its val scenes still read."),
    spectrograms: Path | None = typer.Option(
        None, "--spectrograms", help="A `shapes build` folder with words/: half of each batch its spectrograms."
    ),
    steps: int = typer.Option(1500, "--steps"),
    batch_size: int = typer.Option(32, "--batch-size", help="Half plain scenes, half checkered objects."),
    learning_rate: float = typer.Option(3e-4, "--learning-rate"),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every"),
    validate_every: int = typer.Option(250, "--validate-every", help="0: never."),
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Teach a trained VAE's decoder patterned objects (checkerboards), its encoder and latents unchanged.
    Run again to resume after a stop."""
    from soundsight.train import vae_decoder

    log_progress()
    quiet_libraries()
    config = attempt(lambda: vae_decoder.DecoderTrainConfig(
        vae=vae, out=out, data=data, spectrograms=spectrograms, steps=steps, batch_size=batch_size,
        learning_rate=learning_rate,
        checkpoint_every=checkpoint_every, validate_every=validate_every, log_every=log_every, seed=seed,
        progress=not no_progress,
    ))  # fmt: skip
    typer.echo(f"saved '{attempt(lambda: vae_decoder.main(config))}'")


@app.command("speech-transformer")
def train_speech_transformer(
    data: list[Path] = typer.Option(
        [Path("runs/shapes")],
        "--data",
        help="A Spoken Shapes build (or `shapes voices` folder) or an LJSpeech-format folder; repeatable. "
        "Val clips come from the first.",
    ),
    out: Path = typer.Option(Path("runs/speech-transformer"), "--out", help="Checkpoints, log, the model in model/."),
    conv_channels: int = typer.Option(32, "--conv-channels", help="Channels of the front end's two convolutions."),
    d_model: int = typer.Option(144, "--d-model"),
    encoder_layers: int = typer.Option(6, "--encoder-layers"),
    decoder_layers: int = typer.Option(2, "--decoder-layers"),
    heads: int = typer.Option(4, "--heads"),
    ffn_dim: int = typer.Option(576, "--ffn-dim"),
    steps: int = typer.Option(4000, "--steps"),
    batch_size: int = typer.Option(32, "--batch-size", help="Global batch, split over processes."),
    learning_rate: float = typer.Option(1e-3, "--learning-rate"),
    warmup_steps: int = typer.Option(400, "--warmup-steps"),
    ctc_weight: float = typer.Option(
        0.3, "--ctc-weight", help="Share of the encoder's CTC loss (0: the decoder's alone)."
    ),
    checkpoint_every: int = typer.Option(200, "--checkpoint-every"),
    validate_every: int = typer.Option(500, "--validate-every", help="0: never."),
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train the Speech-Transformer (a Transformer encoder-decoder over characters) from scratch; run again to
    resume after a stop."""
    from soundsight.models.speech_transformer import SpeechTransformerConfig
    from soundsight.train import speech_transformer

    log_progress()
    quiet_libraries()
    config = attempt(lambda: speech_transformer.SpeechTransformerTrainConfig(
        data=tuple(data), out=out, steps=steps, batch_size=batch_size, learning_rate=learning_rate,
        warmup_steps=warmup_steps, ctc_weight=ctc_weight, checkpoint_every=checkpoint_every,
        validate_every=validate_every, log_every=log_every, seed=seed, progress=not no_progress,
        model=SpeechTransformerConfig(conv_channels=conv_channels, d_model=d_model, heads=heads,
                                      encoder_layers=encoder_layers, decoder_layers=decoder_layers, ffn_dim=ffn_dim),
    ))  # fmt: skip
    typer.echo(f"saved '{attempt(lambda: speech_transformer.main(config))}'")


@app.command("keywords")
def train_keywords(
    data: list[Path] = typer.Option(
        [Path("runs/shapes")], "--data",
        help="A Spoken Shapes build with words/ (repeatable); val and test words come from the first.",
    ),
    out: Path = typer.Option(Path("runs/keywords"), "--out", help="Checkpoints, log, the model in model/."),
    architecture: str = typer.Option(
        "mlp", "--architecture", help="mlp: the paper's 8-layer network; cnn: the field's small CNN."
    ),
    n_mfcc: int | None = typer.Option(
        None, "--n-mfcc", help="MFCCs a frame \\[default: the paper's 5 (mlp), the field's 40 (cnn)]."
    ),
    deltas: bool | None = typer.Option(
        None, "--deltas/--no-deltas", help="Append the MFCCs' deltas \\[default: mlp no, cnn yes]."
    ),
    steps: int = typer.Option(6600, "--steps", help="The paper: 5 cycles of 2 x 660 steps."),
    batch_size: int = typer.Option(100, "--batch-size", help="Global batch, split over processes."),
    learning_rate: float = typer.Option(1e-3, "--learning-rate", help="The CNN's (AdamW, cosine)."),
    cycle_low: float = typer.Option(1e-3, "--cycle-low", help="The MLP's cyclic learning rate, low end."),
    cycle_high: float = typer.Option(1e-1, "--cycle-high", help="The MLP's cyclic learning rate, high end."),
    cycle_half_steps: int = typer.Option(660, "--cycle-half-steps", help="Steps from low to high (n_s)."),
    weight_decay: float = typer.Option(1e-4, "--weight-decay", help="L2 (the paper's lambda)."),
    checkpoint_every: int = typer.Option(500, "--checkpoint-every"),
    validate_every: int = typer.Option(500, "--validate-every", help="0: never."),
    log_every: int = typer.Option(50, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train a keyword recogniser on the spoken words (MFCCs in, one of the 14 words out); run again to resume.
    Its test accuracy (the test voices) is written to model/training.json."""
    from dataclasses import replace

    from soundsight.mfcc import FIELD_MFCC, PAPER_MFCC
    from soundsight.train import keywords

    log_progress()
    quiet_libraries()
    base = PAPER_MFCC if architecture == "mlp" else FIELD_MFCC
    mfcc = replace(base, n_mfcc=n_mfcc or base.n_mfcc, deltas=base.deltas if deltas is None else deltas)
    config = attempt(lambda: keywords.KeywordsTrainConfig(
        data=tuple(data), out=out, architecture=architecture, mfcc=mfcc, steps=steps, batch_size=batch_size,
        learning_rate=learning_rate, cycle_low=cycle_low, cycle_high=cycle_high, cycle_half_steps=cycle_half_steps,
        weight_decay=weight_decay, checkpoint_every=checkpoint_every, validate_every=validate_every,
        log_every=log_every, seed=seed, progress=not no_progress,
    ))  # fmt: skip
    typer.echo(f"saved '{attempt(lambda: keywords.main(config))}'")


@app.command("word-vectors")
def train_word_vectors(
    out: Path = typer.Option(Path("runs/word-vectors"), "--out", help="vectors.bin (word2vec format), probe.json."),
    size: int = typer.Option(300, "--size", help="Dimensions (the paper's Google News vectors: 300)."),
    window: int = typer.Option(5, "--window", help="Context words either side."),
    epochs: int = typer.Option(5, "--epochs"),
    sentences: int = typer.Option(20_000, "--sentences", help="Captions of the grammar to train on."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train word2vec on the caption grammar and probe what pooled object phrases keep (colour, shape)."""
    from soundsight.train import word_vectors

    log_progress()
    config = attempt(lambda: word_vectors.WordVectorsTrainConfig(
        out=out, size=size, window=window, epochs=epochs, sentences=sentences, seed=seed))  # fmt: skip
    typer.echo(f"saved '{attempt(lambda: word_vectors.main(config))}'")


# the GANs' shared flags: the papers' batches of 64 at Adam 2e-4
GAN_STEPS = typer.Option(6000, "--steps")
GAN_BATCH = typer.Option(64, "--batch-size")
GAN_LEARNING_RATE = typer.Option(2e-4, "--learning-rate")
GAN_SAMPLE_EVERY = typer.Option(500, "--sample-every", help="Steps between sample grids in out/samples.")
GAN_ATTRIBUTE_WEIGHT = typer.Option(
    0.0, "--attribute-weight",
    help="Above 0: an auxiliary attribute head on the discriminator (AC-GAN), its loss this weighted; 0: the paper's.",
)  # fmt: skip
GAN_L1_WEIGHT = typer.Option(
    0.0, "--l1-weight", help="Above 0: pix2pix's L1 term to the caption's own scene, this weighted (pix2pix: 100)."
)
GAN_OMIT_RATE = typer.Option(
    None, "--omit-rate",
    help="Leave each of size, position and background out of a training caption with this probability "
    "(default 0.2, 0.1, 0.2); more trains captions that name little, as two spoken words do.",
)  # fmt: skip


@app.command("cgan")
def train_cgan(
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `soundsight shapes build` folder with scenes/."),
    word_vectors: Path = typer.Option(
        Path("runs/word-vectors/vectors.bin"), "--word-vectors",
        help="Word vectors in the word2vec format (.bin binary, else text): `train word-vectors` or your own.",
    ),
    out: Path = typer.Option(Path("runs/cgan"), "--out", help="Checkpoints, log, samples/, the model in model/."),
    pooling: str = typer.Option(
        "minmax", "--pooling", help="minmax: the paper's (order lost); mean; slots: one vector a caption slot."
    ),
    augmentation: str = typer.Option(
        "noise", "--augmentation", help="noise: the paper's c + N(0, 0.001); ca: StackGAN's conditioning augmentation."
    ),
    wrong_text: str = typer.Option(
        "mismatched", "--wrong-text", help="mismatched: another scene's caption; random: N(0, 1), the paper's."
    ),
    width: int = typer.Option(32, "--width", help="Generator: 8 x width channels at 4 x 4 (the paper: 512)."),
    d_width: int = typer.Option(32, "--d-width", help="Discriminator's first convolution (the paper: 64)."),
    steps: int = GAN_STEPS,
    batch_size: int = GAN_BATCH,
    learning_rate: float = GAN_LEARNING_RATE,
    attribute_weight: float = GAN_ATTRIBUTE_WEIGHT,
    l1_weight: float = GAN_L1_WEIGHT,
    omit_rate: float | None = GAN_OMIT_RATE,
    weights_dtype: str = typer.Option(
        "float32", "--weights-dtype", help="The saved generator's weights: float32, or float16 (half the file)."
    ),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every"),
    sample_every: int = GAN_SAMPLE_EVERY,
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train the conditional GAN of the word-vector route on Spoken Shapes scenes; run again to resume."""
    from soundsight.models.cgan import CganConfig
    from soundsight.train import cgan

    log_progress()
    quiet_libraries()
    config = attempt(lambda: cgan.CganTrainConfig(
        data=data, word_vectors=word_vectors, out=out, wrong_text=wrong_text, steps=steps, batch_size=batch_size,
        learning_rate=learning_rate, attribute_weight=attribute_weight, l1_weight=l1_weight, omit_rate=omit_rate,
        weights_dtype=weights_dtype, checkpoint_every=checkpoint_every, sample_every=sample_every,
        log_every=log_every, seed=seed, progress=not no_progress,
        model=CganConfig(pooling=pooling, augmentation=augmentation, width=width, d_width=d_width),
    ))  # fmt: skip
    typer.echo(f"saved '{attempt(lambda: cgan.main(config))}'")


@app.command("char-cnn-rnn")
def train_char_cnn_rnn(
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `shapes build` folder with scenes/."),
    out: Path = typer.Option(Path("runs/char-cnn-rnn"), "--out", help="Checkpoints, log, the model in model/."),
    steps: int = typer.Option(3000, "--steps"),
    batch_size: int = typer.Option(128, "--batch-size", help="Scenes a step; each caption is matched among them."),
    learning_rate: float = typer.Option(1e-3, "--learning-rate"),
    omit_rate: float | None = GAN_OMIT_RATE,
    checkpoint_every: int = typer.Option(250, "--checkpoint-every"),
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train the char-CNN-RNN text embedding (Reed et al.) with a picture encoder on Spoken Shapes scenes, for
    StackGAN (`train stackgan --text-encoder`); run again to resume."""
    from soundsight.train import char_cnn_rnn

    log_progress()
    quiet_libraries()
    config = attempt(lambda: char_cnn_rnn.CharCnnRnnTrainConfig(
        data=data, out=out, steps=steps, batch_size=batch_size, learning_rate=learning_rate, omit_rate=omit_rate,
        checkpoint_every=checkpoint_every, log_every=log_every, seed=seed, progress=not no_progress,
    ))  # fmt: skip
    final = attempt(lambda: char_cnn_rnn.main(config))
    card = json.loads((final / "training.json").read_text())
    typer.echo(f"saved '{final}': val captions retrieve a scene they describe {percent(card['val_retrieval'])}")


@app.command("stackgan")
def train_stackgan(
    stage: int = typer.Option(..., "--stage", help="1: 64 px from text; 2: 128 px from Stage I's picture and text."),
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `shapes build` folder with scenes/."),
    out: Path = typer.Option(Path("runs/stackgan"), "--out", help="Checkpoints, log, samples/, the model in model/."),
    stage1: Path | None = typer.Option(None, "--stage1", help="Stage II: the Stage-I model or run it refines."),
    width: int = typer.Option(32, "--width", help="The generators' gf_dim (the paper: 128)."),
    d_width: int = typer.Option(32, "--d-width", help="The discriminators' df_dim (the paper: 64)."),
    text_encoder: Path | None = typer.Option(
        None, "--text-encoder", help="Stage I: a char-CNN-RNN (`train char-cnn-rnn`) embeds the captions, not our SD's."
    ),
    ca_relu: bool = typer.Option(
        True, "--ca-relu/--no-ca-relu",
        help="The public code's ReLU over the CA's mu and log-variance (sigma >= 1); --no-ca-relu: both linear.",
    ),
    kl_coefficient: float = typer.Option(2.0, "--kl-coefficient", help="The CA's KL term's weight (the code's: 2)."),
    fill_free: bool = typer.Option(
        False, "--fill-free",
        help="Stage I: what a caption leaves free is drawn from the seed and written in before it is embedded; "
        "trains on captions that name everything.",
    ),
    steps: int = GAN_STEPS,
    batch_size: int = GAN_BATCH,
    learning_rate: float = GAN_LEARNING_RATE,
    decay_every: int = typer.Option(2000, "--decay-every", help="Steps between halvings of the learning rate."),
    attribute_weight: float = GAN_ATTRIBUTE_WEIGHT,
    l1_weight: float = GAN_L1_WEIGHT,
    omit_rate: float | None = GAN_OMIT_RATE,
    checkpoint_every: int = typer.Option(250, "--checkpoint-every"),
    sample_every: int = GAN_SAMPLE_EVERY,
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train StackGAN's Stage I (64 px) or Stage II (128 px) on Spoken Shapes scenes; run again to resume."""
    from soundsight.models.stackgan import StackGanConfig
    from soundsight.train import stackgan

    log_progress()
    quiet_libraries()
    config = attempt(lambda: stackgan.StackGanTrainConfig(
        data=data, out=out, stage=stage, stage1=stage1, text_encoder=text_encoder,
        model=StackGanConfig(width=width, d_width=d_width, fill_free=fill_free, ca_relu=ca_relu),
        kl_coefficient=kl_coefficient,
        steps=steps, batch_size=batch_size, learning_rate=learning_rate, decay_every=decay_every,
        attribute_weight=attribute_weight, l1_weight=l1_weight, omit_rate=omit_rate,
        checkpoint_every=checkpoint_every, sample_every=sample_every, log_every=log_every, seed=seed,
        progress=not no_progress,
    ))  # fmt: skip
    final = attempt(lambda: stackgan.main(config))
    card = json.loads((final / "training.json").read_text())
    typer.echo(f"saved '{final}': val all attributes {percent(card['val_all_attributes'])}")


@app.command("spectrogram")
def train_spectrogram(
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `shapes build` folder with words/train."),
    out: Path = typer.Option(Path("runs/spectrogram"), "--out", help="Checkpoints, log.jsonl, the model in model/."),
    init_from: Path | None = typer.Option(
        None, "--init-from", help="The image model it starts from and shares latents with \\[default: ours]."
    ),
    steps: int = typer.Option(3000, "--steps"),
    batch_size: int = typer.Option(32, "--batch-size"),
    learning_rate: float = typer.Option(2e-4, "--learning-rate"),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every"),
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Fine-tune the image model's UNet into a spectrogram model of the spoken words (images that speak).
    Run again to resume after a stop."""
    from soundsight.train import spectrogram

    log_progress()
    quiet_libraries()
    config = attempt(lambda: spectrogram.SpectrogramTrainConfig(
        data=data, out=out, init_from=init_from, steps=steps, batch_size=batch_size, learning_rate=learning_rate,
        checkpoint_every=checkpoint_every, log_every=log_every, seed=seed, progress=not no_progress,
    ))  # fmt: skip
    typer.echo(f"saved '{attempt(lambda: spectrogram.main(config))}'")


@app.command("word-classifier")
def train_word_classifier(
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `shapes build` folder with words/."),
    out: Path = typer.Option(Path("runs/word-classifier"), "--out", help="Where the classifier is saved."),
    epochs: int = typer.Option(20, "--epochs"),
    batch_size: int = typer.Option(64, "--batch-size"),
    learning_rate: float = typer.Option(2e-3, "--learning-rate"),
    seed: int = typer.Option(0, "--seed"),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train the judge that names the word a one-second clip says (images that speak)."""
    from soundsight.train import word_classifier

    log_progress()
    quiet_libraries()
    config = attempt(lambda: word_classifier.WordClassifierTrainConfig(
        data=data, out=out, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
        progress=not no_progress,
    ))  # fmt: skip
    card = attempt(lambda: word_classifier.main(config))
    typer.echo(f"saved '{out}': accuracy {card['accuracy']}")


@app.command("vocoder")
def train_vocoder(
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `shapes build` folder with words/ (and speech/)."),
    out: Path = typer.Option(Path("runs/vocoder"), "--out", help="Checkpoints, log.jsonl, the vocoder in model/."),
    steps: int = typer.Option(6000, "--steps"),
    batch_size: int = typer.Option(16, "--batch-size"),
    learning_rate: float = typer.Option(1e-3, "--learning-rate"),
    speech_windows: int = typer.Option(2, "--speech-windows", help="1 s windows taken from each train speech clip."),
    channels: int = typer.Option(192, "--channels"),
    blocks: int = typer.Option(6, "--blocks"),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every"),
    validate_every: int = typer.Option(500, "--validate-every", help="0: never."),
    log_every: int = typer.Option(20, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train the vocoder that plays spectrogram pictures (images that speak). Run again to resume after a stop."""
    from soundsight.train import vocoder

    log_progress()
    quiet_libraries()
    config = attempt(lambda: vocoder.VocoderTrainConfig(
        data=data, out=out, steps=steps, batch_size=batch_size, learning_rate=learning_rate,
        speech_windows=speech_windows, channels=channels, blocks=blocks, checkpoint_every=checkpoint_every,
        validate_every=validate_every, log_every=log_every, seed=seed, progress=not no_progress,
    ))  # fmt: skip
    typer.echo(f"saved '{attempt(lambda: vocoder.main(config))}'")


@app.command("adapter")
def train_adapter(
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `shapes build` folder with sounds/."),
    out: Path = typer.Option(Path("runs/adapter"), "--out", help="Checkpoints, log.jsonl, the adapter in model/."),
    asr_model: str | None = typer.Option(None, "--asr-model", help="Whisper whose encoder hears \\[default: ours]."),
    image_model: str | None = IMAGE_MODEL,
    width: int = typer.Option(192, "--width", help="The adapter's width."),
    layers: int = typer.Option(2, "--layers", help="Cross-attention blocks."),
    heads: int = typer.Option(4, "--heads"),
    steps: int = typer.Option(2000, "--steps"),
    batch_size: int = typer.Option(32, "--batch-size", help="Global batch, split over processes."),
    learning_rate: float = typer.Option(3e-4, "--learning-rate"),
    cosine_weight: float = typer.Option(1.0, "--cosine-weight", help="Loss = MSE + this x (1 - cosine)."),
    scene_weight: float = typer.Option(
        0.0, "--scene-weight", help="+ this x cross-entropy over the scenes (what the world snaps a sound to)."
    ),
    widened_copies: int = typer.Option(
        1, "--widened-copies", help="Extra copies of each clip as other synthesisers and rooms make it."
    ),
    varied_sounds: int = typer.Option(
        0, "--varied-sounds", help="Clips of the six classes as other readings of the spec's table make them."
    ),
    varied_widened: float = typer.Option(0.5, "--varied-widened", help="Share of the varied clips heard widened."),
    max_shift_s: float = typer.Option(0.5, "--max-shift-s", help="Up to this much silence before each clip heard."),
    varied_val_sounds: int = typer.Option(
        600, "--varied-val-sounds", help="More such clips, from another seed, to validate the scene snap on."
    ),
    other_sounds: int = typer.Option(4000, "--other-sounds", help="Other sounds for the sound gate (0: no gate)."),
    gate_steps: int = typer.Option(1500, "--gate-steps"),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every"),
    validate_every: int = typer.Option(250, "--validate-every", help="0: only at the end."),
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    device: str = DEVICE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train the audio adapter: sounds -> the text-encoder states of the scenes they are bound to.
    Run again to resume after a stop; `accelerate launch -m soundsight train adapter ...` for several processes."""
    from soundsight.train import adapter

    log_progress()
    quiet_libraries()
    config = attempt(lambda: adapter.AdapterTrainConfig(
        data=data, out=out, asr_model=asr_model, image_model=image_model, width=width, layers=layers, heads=heads,
        steps=steps, batch_size=batch_size, learning_rate=learning_rate, cosine_weight=cosine_weight,
        scene_weight=scene_weight, widened_copies=widened_copies, varied_sounds=varied_sounds,
        varied_val_sounds=varied_val_sounds, varied_widened=varied_widened, max_shift_s=max_shift_s,
        other_sounds=other_sounds, gate_steps=gate_steps,
        checkpoint_every=checkpoint_every, validate_every=validate_every, log_every=log_every, seed=seed,
        device=device, progress=not no_progress,
    ))  # fmt: skip
    typer.echo(f"saved '{attempt(lambda: adapter.main(config))}'")


@app.command("dreambooth")
def train_dreambooth(
    instance_dir: Path = typer.Option(..., "--instance-dir", help="3-20 JPEG/PNG pictures of the subject, any size."),
    instance_prompt: str = typer.Option(..., "--instance-prompt", help='E.g. "a photo of sks person".'),
    output_dir: Path = typer.Option(..., "--output-dir", help="Checkpoints, class images, then the result."),
    pretrained_model: str | None = typer.Option(
        None, "--pretrained-model", help="Base Stable Diffusion (Hub id or folder); default: the bundled model."
    ),
    class_dir: Path | None = typer.Option(None, "--class-dir", help="Class pictures; default OUTPUT_DIR/class_images."),
    class_prompt: list[str] = typer.Option(
        [], "--class-prompt", help='E.g. "a photo of a person"; repeat it and the class pictures cycle through them.'
    ),
    with_prior_preservation: bool = typer.Option(False, "--with-prior-preservation"),
    prior_loss_weight: float = typer.Option(1.0, "--prior-loss-weight"),
    num_class_images: int = typer.Option(
        100, "--num-class-images", help="Painted with the base model when the class folder holds fewer."
    ),
    lora: bool = typer.Option(False, "--lora", help="Train LoRA adapters instead of the whole UNet."),
    rank: int = typer.Option(4, "--rank", help="LoRA rank."),
    lora_alpha: int | None = typer.Option(None, "--lora-alpha", help="LoRA alpha; default: the rank."),
    lora_modules: str | None = typer.Option(
        None,
        "--lora-modules",
        help="UNet layers given LoRA adapters, comma-separated names; add conv1,conv2 for the ResNet convolutions "
        "\\[default: the attention projections, to_q,to_k,to_v,to_out.0].",
    ),
    train_text_encoder: bool = typer.Option(False, "--train-text-encoder", help="Also the text encoder (or its LoRA)."),
    resolution: int | None = typer.Option(None, "--resolution", help="Default: what the model paints."),
    pad: bool = typer.Option(False, "--pad", help="Pad pictures to a square instead of centre-cropping."),
    use_captions: bool = typer.Option(
        False,
        "--use-captions",
        help="Each instance picture with its caption (or one of its captions, drawn each step) from "
        "INSTANCE_DIR/metadata.jsonl.",
    ),
    use_crops: bool = typer.Option(
        False,
        "--use-crops",
        help='Also train on the crops a picture\'s row in INSTANCE_DIR/metadata.jsonl lists ("crops": each a "box" '
        '(left, top, right, bottom) and its "captions"), e.g. close-ups of a small subject.',
    ),
    batch_size: int = typer.Option(1, "--train-batch-size", help="Instance pictures per step and process."),
    gradient_accumulation_steps: int = typer.Option(1, "--gradient-accumulation-steps"),
    max_train_steps: int = typer.Option(400, "--max-train-steps"),
    learning_rate: float = typer.Option(5e-6, "--learning-rate"),
    lr_scheduler: str = typer.Option("constant", "--lr-scheduler", help="constant, cosine, linear, ..."),
    lr_warmup_steps: int = typer.Option(0, "--lr-warmup-steps"),
    use_8bit_adam: bool = typer.Option(False, "--use-8bit-adam", help="Where bitsandbytes is installed."),
    mixed_precision: str = typer.Option("no", "--mixed-precision", help="no, bf16 or fp16 (fp16 needs a GPU)."),
    gradient_checkpointing: bool = typer.Option(False, "--gradient-checkpointing"),
    checkpointing_steps: int = typer.Option(100, "--checkpointing-steps"),
    checkpoints_total_limit: int = typer.Option(2, "--checkpoints-total-limit", help="Older checkpoints are deleted."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint in OUTPUT_DIR."),
    validation_prompt: list[str] = typer.Option([], "--validation-prompt", help="Repeat for several."),
    validation_steps: int = typer.Option(100, "--validation-steps"),
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Teach an image model a subject from a few pictures (DreamBooth), full or LoRA, with prior preservation."""
    from soundsight.defaults import default_image_model
    from soundsight.train import dreambooth

    log_progress()
    quiet_libraries()
    modules = tuple(m.strip() for m in lora_modules.split(",")) if lora_modules else dreambooth.LORA_UNET_MODULES
    config = attempt(lambda: dreambooth.DreamBoothConfig(
        pretrained_model=pretrained_model or default_image_model(), instance_dir=instance_dir,
        instance_prompt=instance_prompt, output_dir=output_dir, class_dir=class_dir, class_prompts=tuple(class_prompt),
        with_prior_preservation=with_prior_preservation, prior_loss_weight=prior_loss_weight,
        num_class_images=num_class_images, lora=lora, rank=rank, lora_alpha=lora_alpha,
        train_text_encoder=train_text_encoder, resolution=resolution, fit="pad" if pad else "crop",
        use_captions=use_captions, use_crops=use_crops, batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        max_train_steps=max_train_steps, learning_rate=learning_rate, lr_scheduler=lr_scheduler,
        lr_warmup_steps=lr_warmup_steps, use_8bit_adam=use_8bit_adam, mixed_precision=mixed_precision,
        gradient_checkpointing=gradient_checkpointing, checkpointing_steps=checkpointing_steps, resume=resume,
        keep_checkpoints=checkpoints_total_limit, validation_prompts=tuple(validation_prompt),
        validation_steps=validation_steps, log_every=log_every,
        seed=seed, device=device,
        progress=not no_progress,
        lora_modules=modules,
    ))  # fmt: skip
    typer.echo(f"saved '{attempt(lambda: dreambooth.main(config))}'")
