"""Real tokenizer vocabularies in their original files -> Hugging Face tokenizers (Whisper and CLIP).

OpenAI ships Whisper's vocabulary as a tiktoken file and CLIP's as gzipped BPE merges; models we
build or train carry the converted tokenizer files, so users never need these originals.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

from transformers import CLIPTokenizer, GenerationConfig, WhisperTokenizer
from transformers.convert_slow_tokenizer import TikTokenConverter, bytes_to_unicode
from transformers.models.whisper.tokenization_whisper import LANGUAGES

# Whisper's language tokens in their order; v1/v2 models (51,865 tokens) have the first 99.
WHISPER_LANGUAGES: tuple[str, ...] = tuple(LANGUAGES)
WHISPER_V2_LANGUAGE_COUNT = 99
WHISPER_TIMESTAMPS = 1501  # <|0.00|> ... <|30.00|> in steps of 0.02 s
CLIP_VOCAB_SIZE = 49_408


def whisper_special_tokens(n_languages: int = WHISPER_V2_LANGUAGE_COUNT) -> list[str]:
    """The special tokens that follow the BPE ranks, in Whisper's order."""
    languages = [f"<|{code}|>" for code in WHISPER_LANGUAGES[:n_languages]]
    tail = ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]
    return ["<|endoftext|>", "<|startoftranscript|>", *languages, *tail]


def whisper_tokenizer_from_tiktoken(
    tiktoken_file: Path | str, n_languages: int = WHISPER_V2_LANGUAGE_COUNT
) -> WhisperTokenizer:
    """Return a WhisperTokenizer built from OpenAI's `multilingual.tiktoken` (51,865 tokens with 99 languages)."""
    vocab, merges = TikTokenConverter(vocab_file=str(tiktoken_file)).extract_vocab_merges_from_model(str(tiktoken_file))
    specials = whisper_special_tokens(n_languages)
    tokenizer = WhisperTokenizer(vocab=vocab, merges=merges, extra_special_tokens=specials[1:])
    tokenizer.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(WHISPER_TIMESTAMPS)])
    assert tokenizer.convert_tokens_to_ids("<|endoftext|>") == len(vocab), "specials must follow the BPE ranks"
    return tokenizer


def whisper_generation_config(tokenizer: WhisperTokenizer, *, max_length: int = 448) -> GenerationConfig:
    """Return the generation config Whisper's generate() needs: language, task and timestamp ids."""
    ids = tokenizer.convert_tokens_to_ids
    languages = [t for t in tokenizer.all_special_tokens if t[2:-2] in WHISPER_LANGUAGES]
    eot = ids("<|endoftext|>")
    return GenerationConfig(
        decoder_start_token_id=ids("<|startoftranscript|>"),
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        lang_to_id={token: ids(token) for token in languages},
        task_to_id={"translate": ids("<|translate|>"), "transcribe": ids("<|transcribe|>")},
        no_timestamps_token_id=ids("<|notimestamps|>"),
        prev_sot_token_id=ids("<|startofprev|>"),
        is_multilingual=True,
        max_initial_timestamp_index=50,
        max_length=max_length,
        begin_suppress_tokens=[ids("Ġ"), eot],
        suppress_tokens=[],
        return_timestamps=False,
    )


def clip_tokenizer_from_bpe(bpe_gz: Path | str, *, max_length: int = 77) -> CLIPTokenizer:
    """Return a CLIPTokenizer built from OpenAI's `bpe_simple_vocab_16e6.txt.gz` (49,408 tokens).

    CLIP's vocabulary is the 256 byte characters, the same with the end-of-word mark "</w>", one
    token per merge (the first 48,894 merges), then <|startoftext|> and <|endoftext|>.
    """
    lines = gzip.open(bpe_gz, "rt", encoding="utf-8").read().split("\n")
    merges = lines[1 : CLIP_VOCAB_SIZE - 256 - 256 - 2 + 1]
    byte_chars = list(bytes_to_unicode().values())
    vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with tempfile.TemporaryDirectory(prefix="soundsight-clip-") as tmp:
        vocab_file, merges_file = Path(tmp) / "vocab.json", Path(tmp) / "merges.txt"
        vocab_file.write_text(json.dumps({token: i for i, token in enumerate(vocab)}), encoding="utf-8")
        merges_file.write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
        tokenizer = CLIPTokenizer(
            str(vocab_file), str(merges_file), model_max_length=max_length, pad_token="<|endoftext|>"
        )
    return tokenizer
