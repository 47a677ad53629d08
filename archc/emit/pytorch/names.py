"""Identifiers the generated code reserves: what spec names must never become."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archc.emit.codegen import (
    AMBIGUOUS,
    PY_BUILTINS,
)

if TYPE_CHECKING:  # pragma: no cover
    pass


BLOCK_INPUT = "in"
BLOCK_OUTPUT = "out"
INSTALL_HINT = "pip install 'archc[torch]'"

#: Every attribute an ``nn.Module`` / ``nn.Sequential`` has (torch 2.x).  A submodule or stored
#: value with one of these names would hide a method (``self.train(x)``) or break the module, so
#: spec names never become them.  tests/test_emit_pytorch.py checks the list against torch.
MODULE_ATTRIBUTES = frozenset(
    """
    T_destination _apply _backward_hooks _backward_pre_hooks _buffers _call_impl
    _compiled_call_impl _forward_hooks _forward_hooks_always_called
    _forward_hooks_with_kwargs _forward_pre_hooks _forward_pre_hooks_with_kwargs
    _get_backward_hooks _get_backward_pre_hooks _get_item_by_idx _get_name
    _is_full_backward_hook _load_from_state_dict _load_state_dict_post_hooks
    _load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook _modules _named_members
    _non_persistent_buffers_set _parameters _register_load_state_dict_pre_hook
    _register_state_dict_hook _replicate_for_data_parallel _save_to_state_dict _slow_forward
    _state_dict_hooks _state_dict_pre_hooks _version _wrapped_call_impl add_module append
    apply bfloat16 buffers call_super_init children compile cpu cuda double dump_patches
    eval extend extra_repr float forward get_buffer get_extra_state get_parameter
    get_submodule half insert ipu load_state_dict modules mtia named_buffers named_children
    named_modules named_parameters parameters pop register_backward_hook register_buffer
    register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
    set_extra_state set_submodule share_memory state_dict to to_empty train training type
    xpu zero_grad
    """.split()  # noqa: SIM905 - a word list reads best as words
)
#: names the generated code uses itself, kept from every local
CODE_NAMES = frozenset({"self", "torch", "nn"})
LOCAL_RESERVED = PY_BUILTINS | AMBIGUOUS | CODE_NAMES
