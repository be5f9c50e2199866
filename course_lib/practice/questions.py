"""確認テスト: each question's answer, hints and explanation, and ``judge``.

The question itself is in the notebook's prose; the student writes the answer in code
(``answer_q1 = ...``, which the grader reads). A wrong answer gets a hint, the right one
the explanation (``quiz.check_answer`` shows them in the notebook).
"""

import ast
import math
import numbers
import operator
from dataclasses import dataclass, field

from course_lib.practice.feedback import FAIL, PASS, Verdict


@dataclass(frozen=True)
class Question:
    """A question's key: kind 'number' (a value within ``rtol``) or 'choice' (letters)."""

    kind: str
    answer: object
    explanation: str
    hint: str
    wrong: dict = field(default_factory=dict)  # a known wrong answer -> its own hint
    rtol: float = 1e-6
    choices: str = ""


QUESTIONS = {
    "q1": Question(
        "number",
        24,
        "連鎖律で dz/dx = dz/dt × dt/dx = 2t × 3。x = 1 では t = 4 なので 2 × 4 × 3 = 24。"
        "誤差逆伝播は、この掛け算を出力側から 1 層ずつ行います"
        "（sigmoid の層では σ'(a) が掛かります）。",
        "z を t で微分したもの（2t）と、t を x で微分したもの（3）を掛けます。t の値も忘れずに。",
        {8: "それは dz/dt = 2t だけです。dt/dx も掛けます。", 16: "それは z の値です。"},
    ),
    "q2": Question(
        "number",
        0.25,
        "σ'(x) = σ(x)(1 − σ(x)) は σ(x) = 0.5（x = 0）のとき最大で 0.5 × 0.5 = 0.25。"
        "逆伝播では sigmoid の層を 1 つ戻るたびに、0.25 以下の値が勾配に掛かります。",
        "σ(x) を s と書くと微分は s(1 − s)。s は 0 から 1 の値です。",
        {0.5: "それは σ(0) の値です。微分は σ(x)(1 − σ(x))。", 1: "それは ReLU の微分です。"},
    ),
    "q3": Question(
        "choice",
        "b",
        "どのノードも同じ入力に同じ重みを掛けるので、出力も、逆伝播で届く勾配も同じです。"
        "同じだけ更新されるので、何回学習しても同じまま（対称性が崩れない）。"
        "40 個のノードが 1 個分の働きしかしないので、初期値は乱数でばらばらにします。",
        "上のセルでは、学習のあとも W1 のすべての列が同じでした。なぜそろったままなのでしょう。",
        {"a": "勾配は 0 ではありません: 重みは学習で変わっています（すべての列が同じまま）。"},
        choices="abc",
    ),
    "q4": Question(
        "number",
        0.25**5,
        "0.25⁵ ≈ 0.001。実際には重み（標準偏差 0.01 で 100 ノード分なら約 0.1 倍）も掛かるので、"
        "上の表のとおり 1 層あたり約 1/40 になり、5 層で 10⁻⁷〜10⁻⁸ まで小さくなります。",
        "1 層ごとに最大 0.25 が掛かります。5 層ではそれを何回掛けるでしょう。",
        {1.25: "足し算ではなく掛け算です。", 0.25: "それは 1 層分です。"},
        rtol=0.03,
    ),
    "q5": Question(
        "choice",
        "ac",
        "(a) sigmoid - 0.01 でも学習が進んだのは、各層の入力が平均 0・分散 1 に戻され、"
        "重みの小ささが割り戻されるから。(c) 5 層で |dW1|/|dW6| が 10⁻⁸ 程度から 1 程度になり、"
        "勾配が入力側まで届きました。(b) 計算は増えます。(d) 評価では移動平均を使います。",
        "このノートブックで測った数字（テスト精度が 50% を超えた回、|dW1|/|dW6|、時間）を"
        "見直しましょう。",
        {"b": "上のセルで測ったとおり、バッチ正規化の分だけ時間は増えます。"},
        choices="abcd",
    ),
}


def _number(text):
    """A number from what a student typed: '0.25', '1/4', '0.25**5' (no names, no calls)."""
    operators = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
    operators.update({ast.Div: operator.truediv, ast.Pow: operator.pow})

    def value(node):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return -value(node.operand) if isinstance(node.op, ast.USub) else value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in operators:
            return operators[type(node.op)](value(node.left), value(node.right))
        raise ValueError(text)

    return value(ast.parse(str(text).strip(), mode="eval").body)


def _normalised(question, answer):
    """The answer in the key's form (a float, or sorted letters), or None if unreadable."""
    try:
        if question.kind == "number":
            if isinstance(answer, numbers.Real) and not isinstance(answer, bool):
                return float(answer)
            return _number(answer)
        text = answer if isinstance(answer, str) else "".join(map(str, answer))
        letters = "".join(sorted({c for c in text.lower() if c.isalnum()}))
        return letters if letters and set(letters) <= set(question.choices) else None
    except (ValueError, TypeError, SyntaxError, ArithmeticError, RecursionError):
        return None


def judge(question_id, answer):
    """The Verdict on ``answer`` to question ``question_id`` (None: not answered yet)."""
    question = QUESTIONS[question_id]
    title = f"確認テスト {question_id}"
    if answer is None:
        return Verdict(
            False, f"{title}: まだ答えていません（answer_{question_id} = ... に書いて実行）"
        )
    given = _normalised(question, answer)
    if given is None:
        form = (
            "数（例: 0.5、1/4、2**3）" if question.kind == "number" else '選択肢の記号（例: "a"）'
        )
        return Verdict(False, f"{FAIL} {title}: {answer!r} は読めません。{form}で答えます")
    if question.kind == "number":
        right = math.isclose(given, question.answer, rel_tol=question.rtol)
        known = {k: v for k, v in question.wrong.items() if math.isclose(given, k, rel_tol=1e-9)}
    else:
        right = given == question.answer
        known = {k: v for k, v in question.wrong.items() if k in given and not right}
    if right:
        return Verdict(True, f"{PASS} {title}: 正解です。{question.explanation}")
    hint = next(iter(known.values()), question.hint)
    return Verdict(False, f"{FAIL} {title}: 違います。{hint}")
