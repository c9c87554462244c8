// The C++ front end: a scalar type that records on a Tape, for C++ code with
// no Python at all.
//
//   tapegrad::Tape tape;
//   tapegrad::Scalar x = tapegrad::Scalar::input(tape, 0.5);
//   tapegrad::Scalar y = x * exp(x) + 1.0;          // two nodes: multiply, add_vc
//   tapegrad::Adjoints g = tapegrad::gradient(y);   // one reverse sweep
//   double dydx = g[x];                             // (1 + x) e^x
//
// A Scalar is either recorded (a node of a tape) or a constant (a plain
// number, what the default and the double constructors make). Constants never
// cost a node: an op on a constant and a recorded Scalar records the op's
// constant-operand variant, an op on two constants just computes the number.
// So the type drops into templated numeric code: `Scalar s = 0.0; s += x * x;`.
//
// Every function of the op table is here under its op-table name (exp, sin,
// power, arctan2, maximum, ...), expanded from ops.def like the rest of the
// core; + - * / and unary - are the add, subtract, multiply, divide and
// negative ops. Comparisons compare values and return bool.
//
// Errors: operands of two different tapes throw tape_mismatch_error, and a
// Scalar used after its tape's reset() throws stale_scalar_error (both
// std::logic_error). Threads: see Tape; a tape records in one thread at a time.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "record.hpp"
#include "tape.hpp"

namespace tapegrad {

class tape_mismatch_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

class stale_scalar_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

class Scalar;
namespace detail {
struct ScalarOps;
}

class Scalar {
public:
    // The constant `value` (0 by default): implicit, so numbers mix freely
    // with Scalars in expressions.
    Scalar(double value = 0.0) noexcept : value_(value) {}

    // An independent variable: records one input node holding `value`.
    static Scalar input(Tape& tape, double value) { return Scalar(tape, tape.push_input(value)); }

    // The Scalar of node `node`, already recorded on `tape` (by another front
    // end, say). Throws std::out_of_range for a sink or a node not recorded yet.
    static Scalar at(Tape& tape, index_t node) {
        if (Tape::is_sink(node) || node >= tape.size())
            throw std::out_of_range("tapegrad: node " + std::to_string(node) + " is not a recorded node of this tape (" +
                                    std::to_string(first_node) + " <= node < " + std::to_string(tape.size()) + ")");
        return Scalar(tape, node);
    }

    double value() const noexcept { return value_; }
    explicit operator double() const noexcept { return value_; }

    // True for a node of a tape, false for a constant.
    bool is_recorded() const noexcept { return tape_ != nullptr; }
    // The tape this Scalar is a node of (nullptr for a constant), its node
    // index, and the tape's generation when it was recorded.
    Tape* tape() const noexcept { return tape_; }
    index_t index() const noexcept { return index_; }
    std::uint32_t generation() const noexcept { return generation_; }

    Scalar& operator+=(const Scalar& b);
    Scalar& operator-=(const Scalar& b);
    Scalar& operator*=(const Scalar& b);
    Scalar& operator/=(const Scalar& b);

    // Comparisons compare values (they are not recorded).
    friend bool operator<(const Scalar& a, const Scalar& b) noexcept { return a.value_ < b.value_; }
    friend bool operator<=(const Scalar& a, const Scalar& b) noexcept { return a.value_ <= b.value_; }
    friend bool operator>(const Scalar& a, const Scalar& b) noexcept { return a.value_ > b.value_; }
    friend bool operator>=(const Scalar& a, const Scalar& b) noexcept { return a.value_ >= b.value_; }
    friend bool operator==(const Scalar& a, const Scalar& b) noexcept { return a.value_ == b.value_; }
    friend bool operator!=(const Scalar& a, const Scalar& b) noexcept { return a.value_ != b.value_; }

private:
    Scalar(Tape& tape, index_t node)
        : tape_(&tape), index_(node), generation_(tape.generation()), value_(tape.value(node)) {}
    friend struct detail::ScalarOps;

    Tape* tape_ = nullptr;  // nullptr: a constant
    index_t index_ = 0;
    std::uint32_t generation_ = 0;  // the tape's generation when recorded; a reset makes it stale
    double value_;                  // cached, so constants and recorded values read alike
};

namespace detail {

inline const char* const stale_message =
    "tapegrad: this Scalar belongs to a tape that has been reset, so its node may now hold another "
    "value. Record it again on the current tape (or keep value() before the reset).";

// What every op does around its recorder: check the operands, then pick the
// recorded, constant-operand or plain-number form by which operands are
// recorded.
struct ScalarOps {
    static Tape& live(const Scalar& a) {
        if (TG_UNLIKELY(a.generation_ != a.tape_->generation())) throw stale_scalar_error(stale_message);
        return *a.tape_;
    }

    static Tape& live(const Scalar& a, const Scalar& b) {
        if (TG_UNLIKELY(a.tape_ != b.tape_))
            throw tape_mismatch_error(
                "tapegrad: these Scalars belong to two different tapes. Record the whole computation on one "
                "tape, or use Scalar(x.value()) to treat one of them as a constant.");
        if (TG_UNLIKELY(a.generation_ != b.generation_)) throw stale_scalar_error(stale_message);
        return live(a);
    }

    template <class Eval, class Record>
    static Scalar unary(const Scalar& a, Eval eval, Record record) {
        if (!a.tape_) return Scalar(eval(a.value_));
        Tape& t = live(a);
        return Scalar(t, record(t, a.index_));
    }

    template <class Eval, class Record, class RecordVC, class RecordCV>
    static Scalar binary(const Scalar& a, const Scalar& b, Eval eval, Record record, RecordVC record_vc,
                         RecordCV record_cv) {
        if (a.tape_ && b.tape_) {
            Tape& t = live(a, b);
            return Scalar(t, record(t, a.index_, b.index_));
        }
        if (a.tape_) {
            Tape& t = live(a);
            return Scalar(t, record_vc(t, a.index_, b.value_));
        }
        if (b.tape_) {
            Tape& t = live(b);
            return Scalar(t, record_cv(t, a.value_, b.index_));
        }
        return Scalar(eval(a.value_, b.value_));
    }
};

}  // namespace detail

// One function per op-table row: name(Scalar) or name(Scalar, Scalar).
#define TG_UNARY(name, ...)                                                                   \
    inline Scalar name(const Scalar& a) {                                                     \
        return detail::ScalarOps::unary(a, [](double x) { return eval_##name(x); },                      \
                             [](Tape& t, index_t i) { return record_##name(t, i); });         \
    }
#define TG_BINARY(name, ...)                                                                  \
    inline Scalar name(const Scalar& a, const Scalar& b) {                                    \
        return detail::ScalarOps::binary(                                                     \
            a, b, [](double x, double z) { return eval_##name(x, z); },                       \
            [](Tape& t, index_t i, index_t j) { return record_##name(t, i, j); },             \
            [](Tape& t, index_t i, double c) { return record_##name##_vc(t, i, c); },         \
            [](Tape& t, double c, index_t j) { return record_##name##_cv(t, c, j); });        \
    }
#include "ops.def"

inline Scalar operator+(const Scalar& a, const Scalar& b) { return add(a, b); }
inline Scalar operator-(const Scalar& a, const Scalar& b) { return subtract(a, b); }
inline Scalar operator*(const Scalar& a, const Scalar& b) { return multiply(a, b); }
inline Scalar operator/(const Scalar& a, const Scalar& b) { return divide(a, b); }
inline Scalar operator-(const Scalar& a) { return negative(a); }
inline Scalar operator+(const Scalar& a) { return a; }

inline Scalar& Scalar::operator+=(const Scalar& b) { return *this = add(*this, b); }
inline Scalar& Scalar::operator-=(const Scalar& b) { return *this = subtract(*this, b); }
inline Scalar& Scalar::operator*=(const Scalar& b) { return *this = multiply(*this, b); }
inline Scalar& Scalar::operator/=(const Scalar& b) { return *this = divide(*this, b); }

// The adjoints of one output y after a reverse sweep: g[x] = dy/dx for any
// Scalar x recorded on y's tape (0 for a constant or a node y does not depend
// on). Reusing one Adjoints for many sweeps reuses its memory.
class Adjoints {
public:
    Adjoints() = default;
    explicit Adjoints(const Scalar& y) { sweep(y); }

    // One reverse sweep from y. Holds the tape's storage lock meanwhile, so
    // another thread's reset() or growth of the tape waits for it.
    void sweep(const Scalar& y) {
        tape_ = y.tape();
        adjoint_.clear();
        if (!tape_) return;  // a constant depends on nothing
        const Tape& t = detail::ScalarOps::live(y);
        generation_ = y.generation();
        adjoint_.assign(std::size_t(y.index()) + 1, 0.0);
        adjoint_[y.index()] = 1.0;
        auto hold = t.lock_storage();
        t.sweep(y.index(), adjoint_.data());
    }

    double operator[](const Scalar& x) const {
        if (!x.is_recorded() || !tape_) return 0.0;  // a constant x, or a constant output
        if (x.tape() != tape_)
            throw tape_mismatch_error(
                "tapegrad: this Scalar is not on the tape these adjoints were swept on; ask for "
                "derivatives with respect to Scalars of the output's tape.");
        if (x.generation() != generation_ || generation_ != tape_->generation())
            throw stale_scalar_error(detail::stale_message);
        return x.index() < adjoint_.size() ? adjoint_[x.index()] : 0.0;
    }

    // Every adjoint, indexed by node (entries 0..first_node-1 are the sinks').
    const std::vector<double>& all() const noexcept { return adjoint_; }

private:
    const Tape* tape_ = nullptr;
    std::uint32_t generation_ = 0;
    std::vector<double> adjoint_;
};

// dy/d(every node) by one reverse sweep: gradient(y)[x] is dy/dx.
inline Adjoints gradient(const Scalar& y) { return Adjoints(y); }

}  // namespace tapegrad
