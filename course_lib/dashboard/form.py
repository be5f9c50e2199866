"""RunForm: the preset list and one control per RunConfig setting, made from its Setting.

A setting with choices gets a pick list, a yes/no one a check box, a typed one a text box
(the weight init a text box that also offers the initialisers' names), a number a number
box. A field added to RunConfig shows up here without an edit. The form checks nothing
itself: RunConfig does, and the form only says which control was wrong.
"""

import html

import ipywidgets as widgets

from course_lib.config import RunConfig, SettingError, settings
from course_lib.multi_layer_net import WEIGHT_INITS

CUSTOM_PRESET = ""  # the preset list's value when the controls match no preset
COLUMNS = 3  # of controls side by side: all of them fit a projector's screen


class InputError(ValueError):
    """A control holds a value that cannot be run; the message names the control."""


def _control(name, setting, default):
    """The widget of one setting, showing ``default``."""
    common = {
        "description": setting.label,
        "style": {"description_width": "7.5em"},
        "layout": widgets.Layout(width="auto", min_width="16em"),
    }
    if setting.choices is not None:
        options = [(shown, value) for value, shown in setting.choices.items()]
        control = widgets.Dropdown(options=options, value=default, **common)
    elif isinstance(default, bool):
        control = widgets.Checkbox(value=default, **common)
    elif name == "weight_init_std":
        # A std such as 0.05, or an initialiser picked from the list: one box for both.
        options = ["0.01", *WEIGHT_INITS]
        control = widgets.Combobox(value=setting.text(default), options=options, **common)
    elif setting.parse is not None and not isinstance(default, (int, float)):
        control = widgets.Text(value=setting.text(default), **common)
    elif isinstance(default, int):
        control = widgets.IntText(value=default, **common)
    else:
        control = widgets.FloatText(value=default, **common)
    control.add_class(f"course-setting-{name.replace('_', '-')}")
    return control


class RunForm:
    """The preset list and one control per setting; ``read()`` gives a RunConfig."""

    def __init__(self, presets, preset_options):
        self.presets = presets
        self.preset = widgets.Dropdown(
            options=[("(custom settings)", CUSTOM_PRESET), *preset_options],
            description="preset",
            style={"description_width": "7.5em"},
            layout=widgets.Layout(width="auto", min_width="36em"),
        )
        self.preset.add_class("course-preset")
        defaults = RunConfig()
        self.settings = settings()
        self.controls = {
            name: _control(name, setting, getattr(defaults, name))
            for name, setting in self.settings.items()
        }
        for control in self.controls.values():
            control.observe(self._on_change, "value")
        self.note = widgets.HTML()
        self._filling = False
        self.preset.observe(self._on_preset, "value")
        self.grid = widgets.GridBox(
            list(self.controls.values()),
            layout=widgets.Layout(grid_template_columns=f"repeat({COLUMNS}, 1fr)"),
        )
        self.box = widgets.VBox([widgets.HBox([self.preset, self.note]), self.grid])

    def widget(self, name):
        """The control of setting ``name`` (for code and tests)."""
        return self.controls[name]

    def read(self):
        """The controls' values as a RunConfig; InputError naming the control if not valid."""
        texts = {}
        for name, control in self.controls.items():
            value = control.value
            texts[name] = value.strip() if isinstance(value, str) else value
        try:
            return RunConfig.from_text(**texts)
        except SettingError as exc:
            raise InputError(exc.named(settings(all_fields=True)[exc.name].label)) from None

    def fill(self, config):
        """Set every control from ``config``."""
        self._filling = True
        try:
            for name, control in self.controls.items():
                value = getattr(config, name)
                typed = isinstance(control, (widgets.Text, widgets.Combobox))
                control.value = self.settings[name].text(value) if typed else value
        finally:
            self._filling = False

    def _on_preset(self, change):
        if change["new"] == CUSTOM_PRESET:
            self.note.value = ""
            return
        preset = self.presets[change["new"]]
        self.fill(preset.config.replace(seed=self.controls["seed"].value))
        self.note.value = (
            '<small class="course-observation">シードの考察: '
            f"{html.escape(preset.observation)}</small>"
        )

    def _on_change(self, change):
        """A control changed by hand: the preset may no longer describe the settings."""
        if self._filling or self.preset.value == CUSTOM_PRESET:
            return
        preset = self.presets[self.preset.value]
        try:
            same = self.read().without_seeds() == preset.config.without_seeds()
        except InputError:
            same = False
        if not same:
            self.preset.value = CUSTOM_PRESET
