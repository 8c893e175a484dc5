"""Write two small kohya LoRAs (SD1.5 module names and shapes, rank 4) into a folder: inputs for `hub mix`."""

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

MODULES = {  # kohya name -> (out_features, in_features) of the SD1.5 Linear it adapts
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q": (320, 320),
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k": (320, 768),
    "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_v": (1280, 1280),
    "lora_te_text_model_encoder_layers_0_self_attn_q_proj": (768, 768),
}

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for seed, name in enumerate(("smoke-a", "smoke-b")):
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for module, (n_out, n_in) in MODULES.items():
        tensors[f"{module}.lora_down.weight"] = torch.randn(4, n_in, generator=g).half()
        tensors[f"{module}.lora_up.weight"] = (torch.randn(n_out, 4, generator=g) * 0.01).half()
        tensors[f"{module}.alpha"] = torch.tensor(4.0).half()
    save_file(tensors, out / f"{name}.safetensors", metadata={"ss_network_module": "networks.lora"})
