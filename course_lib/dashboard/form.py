"""RunForm: the dashboard's controls, one per RunConfig setting, and its presets.

The controls are made from ``config.settings()``: a pick list for a setting with
choices, a check box for a yes/no one, a text box for typed values. Two settings get
richer controls: the learning rate (a log slider and an exact box) and the weight init
(the named initialisers, or a custom std). A field added to RunConfig shows up here
without an edit. The form checks nothing itself: RunConfig does, and the form only says
which control was wrong.
"""

import html

import ipywidgets as widgets

from course_lib.config import RunConfig, settings
from course_lib.multi_layer_net import WEIGHT_INITS
from course_lib.validation import SettingError

CUSTOM_PRESET = ""  # the preset list's value when the controls match no preset
STYLE = {"description_width": "9em"}
WIDE = "26em"
# Settings from this one on go in the right-hand column (training, data); before it, the
# network and its update rule.
RIGHT_COLUMN_FROM = "iters_num"


class InputError(ValueError):
    """A control holds a value that cannot be run; the message names the control."""


def _layout(width=WIDE):
    return widgets.Layout(width=width)


class _Control:
    """The widget(s) of one setting: get() the value for RunConfig, set() from one."""

    def __init__(self, name, setting, default):
        self.name = name
        self.setting = setting
        if setting.choices is not None:
            options = [(shown, value) for value, shown in setting.choices.items()]
            self.input = widgets.Dropdown(options=options, value=default)
        elif isinstance(default, bool):
            self.input = widgets.Checkbox(value=default, indent=False)
        elif setting.parse is not None and not isinstance(default, (int, float)):
            self.input = widgets.Text(value=setting.text(default))
        elif isinstance(default, int):
            self.input = widgets.IntText(value=default)
        else:
            self.input = widgets.FloatText(value=default)
        self.input.description = setting.label
        self.input.style = STYLE
        self.input.layout = _layout()
        self.inputs = [self.input]
        self.box = self.input

    def get(self):
        value = self.input.value
        if isinstance(self.input, widgets.Text):
            return self.setting.parse(value)
        return value

    def set(self, value):
        typed = isinstance(self.input, widgets.Text)
        self.input.value = self.setting.text(value) if typed else value


class _WeightInitControl(_Control):
    """The named initialisers, 0.01 (the seed's std) and a custom std."""

    CHOICES = ["0.01", *WEIGHT_INITS, "custom"]

    def __init__(self, name, setting, default):
        self.name = name
        self.setting = setting
        self.input = widgets.Dropdown(
            options=self.CHOICES, description=setting.label, style=STYLE, layout=_layout()
        )
        self.custom = widgets.FloatText(
            value=0.01, description="custom std", style=STYLE, layout=_layout(), disabled=True
        )
        self.input.observe(
            lambda change: setattr(self.custom, "disabled", change["new"] != "custom"), "value"
        )
        self.inputs = [self.input, self.custom]
        self.box = widgets.VBox([self.input, self.custom])
        self.set(default)

    def get(self):
        if self.input.value == "custom":
            return self.custom.value
        if self.input.value == "0.01":
            return 0.01
        return self.input.value

    def set(self, value):
        if isinstance(value, str):
            self.input.value = value
        elif value == 0.01:
            self.input.value = "0.01"
        else:
            self.custom.value = value
            self.input.value = "custom"


class _LearningRateControl(_Control):
    """A log slider to sweep, and a box for the exact value; each follows the other."""

    def __init__(self, name, setting, default):
        self.name = name
        self.setting = setting
        self.slider = widgets.FloatLogSlider(
            value=default,
            base=10,
            min=-4,
            max=1,
            step=0.05,
            description=setting.label,
            readout_format=".3g",
            style=STYLE,
            layout=_layout(),
        )
        self.input = widgets.FloatText(
            value=default, description="exact lr", style=STYLE, layout=_layout()
        )
        self._syncing = False
        self.slider.observe(self._from_slider, "value")
        self.input.observe(self._from_box, "value")
        self.inputs = [self.input]
        self.box = widgets.VBox([self.slider, self.input])

    def _from_slider(self, change):
        if not self._syncing:
            self._syncing = True
            try:
                self.input.value = float(f"{change['new']:.4g}")
            finally:
                self._syncing = False

    def _from_box(self, change):
        # The box is the exact value; the slider follows when it can show it.
        if not self._syncing and change["new"] > 0:
            self._syncing = True
            try:
                self.slider.value = change["new"]
            finally:
                self._syncing = False


SPECIAL = {"weight_init_std": _WeightInitControl, "learning_rate": _LearningRateControl}


class RunForm:
    """The preset list and one control per setting; ``read()`` gives a RunConfig."""

    def __init__(self, presets, preset_options):
        self.presets = presets
        self.preset = widgets.Dropdown(
            options=[("(custom settings)", CUSTOM_PRESET), *preset_options],
            description="preset",
            style=STYLE,
            layout=_layout("40em"),  # the longest preset name fits
        )
        self.preset.add_class("course-preset")
        defaults = RunConfig()
        self.controls = {
            name: SPECIAL.get(name, _Control)(name, setting, getattr(defaults, name))
            for name, setting in settings().items()
        }
        for name, control in self.controls.items():
            control.box.add_class(f"course-setting-{name.replace('_', '-')}")
            for widget in control.inputs:
                widget.observe(self._on_change, "value")
        self.note = widgets.HTML()
        self._filling = False
        self.preset.observe(self._on_preset, "value")
        names = list(self.controls)
        split = names.index(RIGHT_COLUMN_FROM)
        left = [self.preset, *(self.controls[n].box for n in names[:split])]
        right = [self.controls[n].box for n in names[split:]]
        self.box = widgets.HBox([widgets.VBox(left), widgets.VBox(right)])

    def widget(self, name):
        """The input widget of setting ``name`` (for code and tests)."""
        return self.controls[name].input

    def read(self):
        """The controls' values as a RunConfig; InputError naming the control if not valid."""
        values = {}
        try:
            for name, control in self.controls.items():
                values[name] = control.get()
            return RunConfig(**values)
        except SettingError as exc:
            label = settings(all_fields=True)[exc.name].label
            raise InputError(exc.named(label)) from None

    def fill(self, config):
        """Set every control from ``config``."""
        self._filling = True
        try:
            for name, control in self.controls.items():
                control.set(getattr(config, name))
        finally:
            self._filling = False

    def _on_preset(self, change):
        if change["new"] == CUSTOM_PRESET:
            self.note.value = ""
            return
        preset = self.presets[change["new"]]
        seed = self.controls["seed"].get() if "seed" in self.controls else None
        self.fill(preset.config.replace(seed=seed) if seed is not None else preset.config)
        self.note.value = (
            f"<small>シードの考察: {html.escape(preset.observation)} "
            f"(checked: {html.escape(preset.claim)})</small>"
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
