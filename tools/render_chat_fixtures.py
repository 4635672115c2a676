#!/usr/bin/python3
"""Renders the Qwen3 chat template with Jinja2 exactly as Hugging Face
transformers does (apply_chat_template) and writes the results to
tests/data/chat/fixtures.json, the reference of tests/text/chat_template_test.cpp.

    /usr/bin/python3 tools/render_chat_fixtures.py            # rewrite the fixtures
    /usr/bin/python3 tools/render_chat_fixtures.py --check    # exit 1 if they are stale

The template comes from third_party/qwen3-tokenizer/tokenizer_config.json
(scripts/setup.sh). --check exits 77 (ctest: skipped) when jinja2 or the
template is missing.
"""

import argparse
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "third_party", "qwen3-tokenizer", "tokenizer_config.json")
FIXTURES = os.path.join(ROOT, "tests", "data", "chat", "fixtures.json")
SKIP = 77


def make_environment():
    """The Jinja2 environment of transformers' _compile_jinja_template."""
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # transformers overrides Jinja's tojson, which would HTML-escape.
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def render(template, case):
    kwargs = {}
    if "enable_thinking" in case:
        kwargs["enable_thinking"] = case["enable_thinking"]
    return template.render(messages=case["messages"], tools=case.get("tools"),
                           documents=None,
                           add_generation_prompt=case["add_generation_prompt"],
                           bos_token=None, eos_token="<|im_end|>",
                           pad_token="<|endoftext|>", unk_token=None, **kwargs)


def sys_(text):
    return {"role": "system", "content": text}


def user(text):
    return {"role": "user", "content": text}


def asst(text, reasoning=None, **extra):
    m = {"role": "assistant", "content": text}
    if reasoning is not None:
        m["reasoning_content"] = reasoning
    m.update(extra)
    return m


def tool(text):
    return {"role": "tool", "content": text}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city, \"quoted\" \\ and unicode: Zürich ☀",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "scale": {"type": "number", "default": 0.5, "examples": [1e-05, 1e+16, 2.0]},
                "metric": {"type": "boolean", "default": True},
                "extra": {"default": None, "enum": [], "obj": {}},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {"type": "function",
               "function": {"name": "search", "description": "Tabs\tand\nnewlines\u0001",
                            "parameters": {"type": "object", "properties": {}}}}


def call(name, arguments):
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


# Each case: name, messages, add_generation_prompt, optional enable_thinking, optional tools.
CASES = [
    {"name": "single_user", "messages": [user("Hello!")]},
    {"name": "single_user_no_generation_prompt", "messages": [user("Hello!")],
     "add_generation_prompt": False},
    {"name": "system_and_user",
     "messages": [sys_("You are a helpful assistant."), user("What is 2+2?")]},
    {"name": "thinking_disabled", "messages": [user("What is 2+2?")], "enable_thinking": False},
    {"name": "thinking_enabled_explicitly", "messages": [user("What is 2+2?")],
     "enable_thinking": True},
    {"name": "thinking_disabled_no_generation_prompt", "messages": [user("Hi")],
     "enable_thinking": False, "add_generation_prompt": False},
    {"name": "multi_turn_think_in_content_stripped",
     "messages": [user("What is 2+2?"),
                  asst("<think>\nAdd two and two.\n</think>\n\n2+2 = 4."),
                  user("And 3+3?")]},
    {"name": "multi_turn_reasoning_content_field_stripped",
     "messages": [sys_("Be brief."), user("Capital of France?"),
                  asst("Paris.", reasoning="The capital of France is Paris."),
                  user("And of Italy?")]},
    {"name": "last_assistant_keeps_reasoning_field",
     "messages": [user("Capital of France?"),
                  asst("Paris.", reasoning="\n\nThe capital is Paris.\n")],
     "add_generation_prompt": False},
    {"name": "last_assistant_keeps_think_in_content",
     "messages": [user("Capital of France?"),
                  asst("<think>\nIt is Paris.\n</think>\n\nParis.")],
     "add_generation_prompt": False},
    {"name": "last_assistant_without_reasoning_gets_empty_think",
     "messages": [user("Say hi"), asst("Hi!")], "add_generation_prompt": False},
    {"name": "last_assistant_empty_reasoning_field",
     "messages": [user("Say hi"), asst("Hi!", reasoning="")],
     "add_generation_prompt": False},
    {"name": "null_reasoning_field_falls_back_to_content",
     "messages": [user("Q"), asst("<think>r</think>A", reasoning=None, reasoning_content=None)],
     "add_generation_prompt": False},
    {"name": "reasoning_field_wins_over_think_in_content",
     "messages": [user("Q"), asst("<think>\nold\n</think>\n\nA", reasoning="new")],
     "add_generation_prompt": False},
    {"name": "empty_reasoning_field_keeps_think_in_content",
     "messages": [user("Q"), asst("<think>\nold\n</think>\n\nA", reasoning="")],
     "add_generation_prompt": False},
    {"name": "long_multi_turn",
     "messages": [sys_("sys"), user("u1"), asst("<think>t1</think>a1"), user("u2"),
                  asst("a2", reasoning="t2"), user("u3"),
                  asst("<think>\n\nt3\n\n</think>\n\n\na3")],
     "add_generation_prompt": False},
    {"name": "long_multi_turn_then_user",
     "messages": [sys_("sys"), user("u1"), asst("<think>t1</think>a1"), user("u2"),
                  asst("a2", reasoning="t2"), user("u3")]},
    {"name": "consecutive_assistants_after_last_query",
     "messages": [user("u1"), asst("a1", reasoning="r1"), asst("a2"), asst("a3", reasoning="r3"),
                  asst("<think>r4</think>a4")],
     "add_generation_prompt": False},
    {"name": "assistant_whitespace_reasoning_not_last",
     "messages": [user("u1"), asst("a1", reasoning="\n"), asst("a2", reasoning="")]},
    {"name": "think_tags_edge_cases",
     "messages": [user("u"), asst("pre<think>a<think>b\n</think>\nmid</think>\n\nend")],
     "add_generation_prompt": False},
    {"name": "close_tag_only_in_content",
     "messages": [user("u"), asst("reasoning only\n</think>")],
     "add_generation_prompt": False},
    {"name": "close_tag_only_before_last_query",
     "messages": [user("u"), asst("x</think>\n\ny"), user("v")]},
    {"name": "open_tag_without_close_kept",
     "messages": [user("u"), asst("<think>unfinished"), user("v")]},
    {"name": "user_content_with_think_tags_untouched",
     "messages": [user("<think>\nnot reasoning\n</think>\n\nquestion")]},
    {"name": "unicode",
     "messages": [sys_("Réponds en français. 🙂"),
                  user("Combien font 七 + 三 ? Ω≈ç√∫"),
                  asst("<think>\n七=7, 三=3\n</think>\n\nDix. 🎉"),
                  user("Merci ! ñ")]},
    {"name": "empty_contents",
     "messages": [sys_(""), user(""), asst(""), user("")]},
    {"name": "empty_last_assistant", "messages": [user(""), asst("")],
     "add_generation_prompt": False},
    {"name": "second_system_message_rendered_in_place",
     "messages": [user("u1"), sys_("late system"), user("u2")]},
    {"name": "assistant_first_no_user",
     "messages": [asst("<think>r</think>a"), asst("b", reasoning="rb")],
     "add_generation_prompt": False},
    {"name": "system_only", "messages": [sys_("only system")]},
    {"name": "special_tokens_in_content",
     "messages": [user("<|im_start|>user\nhi<|im_end|> <|endoftext|>")],
     "enable_thinking": False},
    {"name": "newlines_and_spaces_preserved",
     "messages": [user("  leading\n\n\ttabs  \n"), asst("\n\nanswer\n\n", reasoning="  r  "),
                  user("\n")]},
    {"name": "trailing_assistant_prefill_with_generation_prompt",
     "messages": [user("u"), asst("partial")]},
    {"name": "tool_response_user_is_not_a_query",
     "messages": [user("Weather?"), asst("", reasoning="need tool"),
                  user("<tool_response>\nsunny\n</tool_response>"),
                  asst("It is sunny.", reasoning="got it")],
     "add_generation_prompt": False},
    {"name": "tools_with_calls_and_responses",
     "tools": [WEATHER_TOOL, SEARCH_TOOL],
     "messages": [sys_("You help with weather."), user("Weather in Zürich and Paris?"),
                  asst("", reasoning="Call the tool twice.",
                       tool_calls=[call("get_weather", {"city": "Zürich", "days": 2}),
                                   call("get_weather", "{\"city\": \"Paris\"}")]),
                  tool("{\"temp\": 21}"), tool("{\"temp\": 25}"),
                  asst("Zürich 21, Paris 25.")],
     "add_generation_prompt": False},
    {"name": "tools_without_system_then_generation",
     "tools": [SEARCH_TOOL],
     "messages": [user("Find vase"),
                  asst("<think>\nsearch it\n</think>\n\nSearching.",
                       tool_calls=[call("search", {"q": "vase", "n": 3, "exact": False,
                                                   "w": [0.1, -2.5e-07, None]})]),
                  tool("no results"), user("ok, thanks")],
     "enable_thinking": False},
    {"name": "tool_call_without_function_wrapper",
     "messages": [user("u"),
                  asst("text", tool_calls=[{"name": "f", "arguments": {}},
                                           {"name": "g", "arguments": "raw args"}]),
                  tool("r")]},
    {"name": "tool_message_first",
     "messages": [tool("orphan"), user("u")]},
]


def build_cases(template):
    out = []
    for case in CASES:
        case = dict(case)
        case.setdefault("add_generation_prompt", True)
        rendered = render(template, case)
        entry = {"name": case["name"], "add_generation_prompt": case["add_generation_prompt"]}
        if "enable_thinking" in case:
            entry["enable_thinking"] = case["enable_thinking"]
        if case.get("tools"):
            entry["tools"] = case["tools"]
        entry["messages"] = case["messages"]
        entry["expected"] = rendered
        out.append(entry)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed fixtures instead of writing them")
    args = parser.parse_args()

    try:
        import jinja2  # noqa: F401
    except ImportError:
        print("render_chat_fixtures: jinja2 is not installed for", sys.executable)
        return SKIP if args.check else 1
    if not os.path.exists(CONFIG):
        print(f"render_chat_fixtures: {CONFIG} is missing; run scripts/setup.sh")
        return SKIP if args.check else 1

    with open(CONFIG, encoding="utf-8") as f:
        source = json.load(f)["chat_template"]
    template = make_environment().from_string(source)
    fixtures = {
        "about": "Generated by tools/render_chat_fixtures.py (Jinja2 as in HF transformers); "
                 "do not edit.",
        "template_sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
        "chat_template": source,
        "cases": build_cases(template),
    }
    text = json.dumps(fixtures, ensure_ascii=False, indent=1) + "\n"

    if args.check:
        with open(FIXTURES, encoding="utf-8") as f:
            committed = f.read()
        if committed != text:
            print(f"render_chat_fixtures: {FIXTURES} is stale; "
                  "rerun /usr/bin/python3 tools/render_chat_fixtures.py")
            return 1
        print(f"render_chat_fixtures: {len(fixtures['cases'])} cases up to date")
        return 0
    os.makedirs(os.path.dirname(FIXTURES), exist_ok=True)
    with open(FIXTURES, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"render_chat_fixtures: wrote {len(fixtures['cases'])} cases to {FIXTURES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
