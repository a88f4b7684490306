// The one place that includes Boost.Asio/Beast. Boost 1.74's awaitable.hpp uses
// std::exchange without including <utility>, so <utility> must come first under GCC 12.
#pragma once

#include <utility>

// Boost 1.74 looks for clang's coroutines in <experimental/coroutine> (libc++); with
// libstdc++'s <coroutine> clang 14 has them too (the sanitizer and fuzzing build).
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#endif

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
