// Source: daniel-kinde/kinde-workflow utils/utils.ts @ 924c99660c6e676c0a60f1fe3fba605f100addfe (ISC)
const settings = {
    output: '123'
}

export {
    settings
}