"""RunForm: the preset list and one control per RunConfig setting, made from its Setting:
a pick list for choices, a check box for yes/no, else a text box RunConfig parses."""

import html

import ipywidgets as widgets

from course_lib.config import RunConfig, SettingError, settings
from course_lib.multi_layer_net import WEIGHT_INITS

CUSTOM_PRESET = ""  # the preset list's value when the controls match no preset
STYLE = {"description_width": "7.5em"}


class InputError(ValueError):
    """A control holds a value that cannot be run; the message names the control."""


def _control(name, setting, defaults):
    default = getattr(defaults, name)
    layout = widgets.Layout(width="auto", min_width="16em")
    common = {"description": setting.label, "style": STYLE, "layout": layout}
    if setting.choices is not None:
        options = [(shown, value) for value, shown in setting.choices.items()]
        control = widgets.Dropdown(options=options, value=default, **common)
    elif isinstance(default, bool):
        control = widgets.Checkbox(value=default, **common)
    elif name == "weight_init_std":  # a std such as 0.05, or an initialiser from the list
        options = ["0.01", *WEIGHT_INITS]
        control = widgets.Combobox(value=defaults.text(name), options=options, **common)
    else:
        control = widgets.Text(value=defaults.text(name), **common)
    control.add_class(f"course-setting-{name.replace('_', '-')}")
    return control


class RunForm:
    """The preset list and one control per setting; ``read()`` gives a RunConfig."""

    def __init__(self, presets, preset_options):
        self.presets = presets
        options = [("(custom settings)", CUSTOM_PRESET), *preset_options]
        self.preset = widgets.Dropdown(options=options, description="preset", style=STYLE)
        self.preset.layout.width = "36em"
        self.preset.add_class("course-preset")
        self.settings = settings()
        defaults = RunConfig()
        self.controls = {
            name: _control(name, setting, defaults) for name, setting in self.settings.items()
        }
        for name, control in self.controls.items():
            if name != "seed":  # the seed is not part of an experiment
                control.observe(self._on_change, "value")
        self.note = widgets.HTML()
        self._filling = False
        self.preset.observe(self._on_preset, "value")
        grid = widgets.Layout(grid_template_columns="repeat(3, 1fr)")  # fits a projector
        controls = widgets.GridBox(list(self.controls.values()), layout=grid)
        self.box = widgets.VBox([widgets.HBox([self.preset, self.note]), controls])

    def read(self):
        """The controls' values as a RunConfig; InputError naming the control if not valid."""
        values = {name: control.value for name, control in self.controls.items()}
        try:
            return RunConfig.from_text(**values)
        except SettingError as exc:
            raise InputError(exc.named(self.settings[exc.name].label)) from None

    def _on_preset(self, change):
        self.note.value = ""
        if change["new"] == CUSTOM_PRESET:
            return
        preset = self.presets[change["new"]]
        self._filling = True
        try:
            for name, control in self.controls.items():
                value = getattr(preset.config, name)
                if name != "seed":  # it stays as it was
                    typed = isinstance(control, widgets.Text)  # a Combobox is one too
                    control.value = preset.config.text(name) if typed else value
        finally:
            self._filling = False
        self.note.value = f"<small>シードの考察: {html.escape(preset.observation)}</small>"

    def _on_change(self, change):  # changed by hand: the settings are no longer the preset's
        if not self._filling:
            self.preset.value = CUSTOM_PRESET
