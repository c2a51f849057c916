// A small testlib.h written for these test packages: the calls their checker,
// interactor and validator use (registerTestlibCmd, registerInteraction,
// registerValidation; inf/ouf/ans readInt, readLong, readDouble, readToken,
// readSpace, readEoln, readEof, eof, seekEof; quitf, quitp) with testlib's
// exit codes: 0 ok, 1 wrong answer, 2 presentation error, 3 fail, 7 points.
#pragma once
#include <cstdarg>
#include <cstdio>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

enum TResult { _ok = 0, _wa = 1, _pe = 2, _fail = 3 };

inline void say(const char* prefix, const char* format, va_list args) {
    std::fprintf(stderr, "%s", prefix);
    std::vfprintf(stderr, format, args);
    std::fprintf(stderr, "\n");
}

[[noreturn]] inline void quitf(TResult result, const char* format, ...) {
    const char* prefixes[] = {"ok ", "wrong answer ", "wrong output format ", "FAIL "};
    va_list args;
    va_start(args, format);
    say(prefixes[result], format, args);
    va_end(args);
    std::exit(result);
}

[[noreturn]] inline void quitp(double points, const char* format, ...) {
    std::fprintf(stderr, "points %.6f ", points);
    va_list args;
    va_start(args, format);
    say("", format, args);
    va_end(args);
    std::exit(7);
}

struct InStream {
    std::istream* in = nullptr;
    std::ifstream file;
    TResult on_error = _fail;
    bool strict = false;  // a validator's input: whitespace is read, never skipped

    void open(const char* path, TResult error) {
        file.open(path, std::ios::binary);
        if (!file) quitf(_fail, "cannot open %s", path);
        in = &file;
        on_error = error;
    }
    void use(std::istream& stream, TResult error, bool exact) {
        in = &stream;
        on_error = error;
        strict = exact;
    }
    std::string readToken() {
        if (!strict) *in >> std::ws;
        std::string value;
        while (in->peek() != EOF && !std::isspace(in->peek())) value += char(in->get());
        if (value.empty()) quitf(on_error, "expected a token");
        return value;
    }
    std::string readWord() { return readToken(); }
    long long readLong() {
        std::string token = readToken();
        std::size_t used = 0;
        long long value = 0;
        try {
            value = std::stoll(token, &used);
        } catch (...) {
            used = 0;
        }
        if (used == 0 || used != token.size()) quitf(on_error, "expected an integer, got %s", token.c_str());
        return value;
    }
    long long readLong(long long low, long long high, const char* name) {
        long long value = readLong();
        if (value < low || value > high) quitf(on_error, "%s = %lld out of [%lld, %lld]", name, value, low, high);
        return value;
    }
    int readInt() { return int(readLong(-2147483648LL, 2147483647LL, "integer")); }
    int readInt(int low, int high, const char* name) { return int(readLong(low, high, name)); }
    double readDouble() {
        std::string token = readToken();
        try {
            return std::stod(token);
        } catch (...) {
            quitf(on_error, "expected a number, got %s", token.c_str());
        }
    }
    void expect(char wanted, const char* what) {
        if (in->get() != wanted) quitf(on_error, "expected %s", what);
    }
    void readSpace() { expect(' ', "a space"); }
    void readEoln() { expect('\n', "an end of line"); }
    void readEof() {
        if (in->peek() != EOF) quitf(on_error, "expected the end of the file");
    }
    bool eof() { return in->peek() == EOF; }
    bool seekEof() {
        *in >> std::ws;
        return in->peek() == EOF;
    }
};

inline InStream inf, ouf, ans;
inline std::ofstream tout;

inline void registerTestlibCmd(int argc, char* argv[]) {
    if (argc < 4) quitf(_fail, "usage: checker input output answer");
    inf.open(argv[1], _fail);
    ouf.open(argv[2], _pe);
    ans.open(argv[3], _fail);
}

inline void registerInteraction(int argc, char* argv[]) {
    if (argc < 3) quitf(_fail, "usage: interactor input output");
    inf.open(argv[1], _fail);
    tout.open(argv[2]);
    ouf.use(std::cin, _pe, false);
}

inline void registerValidation(int, char*[]) { inf.use(std::cin, _fail, true); }
